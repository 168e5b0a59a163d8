// Sends the client an ACK for the new stable point at once, instead of waiting for
// the server's next segment: without it, bytes held unacknowledged by the clamp wait
// for the client's retransmission timer, and a client with Nagle holds its next small
// write until then. The nudge copies the server's last segment (sequence, window,
// timestamps) so the client takes it as an ordinary ACK, and carries
// TCPFO_NUDGE_MARK so the egress clamp lets it through.
#pragma once

#include <linux/types.h>
#include <netinet/in.h>

#include <cstdint>
#include <span>

#include "bpf/tcpfo_events.h"
#include "userd/base/error.h"
#include "userd/base/unique_fd.h"
#include "userd/hooks/server_segment.h"

namespace tcpfo {

class NudgeSender {
public:
    // An IPPROTO_RAW socket: send-only (a raw IPPROTO_TCP socket would also receive
    // a copy of every TCP segment the node gets).
    static Result<NudgeSender> open();
    Result<void> send_ack(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t ack);
    // A RST toward the client with this sequence (its rcv_nxt, for it to be taken).
    Result<void> send_reset(const tcpfo_conn_key& key, uint32_t seq);
    // Sends a complete IPv4 packet built elsewhere (server_segment.h) to the client,
    // with the same mark.
    Result<void> send_packet(in_addr_t client_addr, std::span<const uint8_t> packet);
    // Many packets with few syscalls (sendmmsg): the takeover's probes, one per
    // connection. Returns how many left; a packet the kernel refused is counted out.
    struct Outgoing {
        in_addr_t client_addr;
        std::span<const uint8_t> packet;
    };
    size_t send_packets(std::span<const Outgoing> packets);

private:
    explicit NudgeSender(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// Exposed for tests: builds the IPv4 + TCP ACK into `out` (kMaxServerSegmentBytes) and
// returns its length. Checksums are computed; the IP header is complete.
size_t build_nudge_packet(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t ack,
                          uint8_t* out);

// Exposed for tests: a bare RST from the VIP to the client (40 bytes).
size_t build_reset_packet(const tcpfo_conn_key& key, uint32_t seq, uint8_t* out);

}  // namespace tcpfo
