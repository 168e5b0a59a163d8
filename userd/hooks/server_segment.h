// One TCP segment "from the service" (VIP:PORT -> client), built from scratch for the
// takeover's raw sends: the out-of-window probe, the resend prompt, duplicate ACKs
// (client_probe.h, resend_prompt.h). Sent through NudgeSender::send_packet, whose
// IPPROTO_RAW socket carries TCPFO_NUDGE_MARK. The IPv4 header and the checksum are
// also what the PMTU prompt (resend_prompt.h) is built from.
#pragma once

#include <linux/types.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "bpf/tcpfo_events.h"

namespace tcpfo {

struct TcpTimestamps {
    uint32_t tsval = 0;
    uint32_t tsecr = 0;
};

// A SACK block [left, right) in the client's sequence space.
struct SackBlock {
    uint32_t left = 0;
    uint32_t right = 0;
    bool operator==(const SackBlock&) const = default;
};

struct ServerSegment {
    tcpfo_conn_key key{};
    uint32_t seq = 0;
    uint32_t ack = 0;       // the ACK flag is set unless `reset`
    bool reset = false;     // a bare RST (no ACK flag, ack 0)
    uint16_t window = 0;    // raw (unscaled) window field
    std::optional<TcpTimestamps> timestamps;
    std::vector<SackBlock> sack;  // at most 3 with timestamps, 4 without
    uint32_t payload_len = 0;     // zero bytes (only the probe uses one byte)
};

// IPv4 header (20) + TCP header with the largest options (60) + a little payload.
constexpr size_t kMaxServerSegmentBytes = 20 + 60 + 4;

// Builds the IPv4 + TCP packet into `out` (kMaxServerSegmentBytes at least) and
// returns its length, or 0 if the options or payload do not fit. The options are laid
// out as Linux sends them: NOP NOP TIMESTAMP, then NOP NOP SACK. Both checksums are
// computed; the TCP pseudo-header uses the VIP, as the client expects.
size_t build_server_segment(const ServerSegment& segment, uint8_t* out);

// The Internet checksum (RFC 1071) of `len` bytes, in host order (store it with htons).
uint16_t internet_checksum(const uint8_t* data, size_t len);

// Writes the 20-byte IPv4 header every raw send uses (no options, DF, TTL 64) with its
// checksum into `out`. `total_len` is the tot_len field, in host order.
void write_ipv4_header(uint8_t* out, uint8_t protocol, in_addr_t saddr, in_addr_t daddr, uint16_t total_len);

}  // namespace tcpfo
