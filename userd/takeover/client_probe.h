// Learning where a client really is before a rebuilt socket's sequences are fixed
// (DESIGN.md, Takeover step 3): the backup knows the client's position only from
// replicated records, which lag. While the connection is held (BpfSnoop::hold), send
// the client an out-of-window probe; Linux answers a segment that lies wholly before
// its receive window with a duplicate ACK whose sequence is its snd_nxt and whose ACK
// field is its rcv_nxt. The hold drops that answer (no socket yet: the stack would
// reset the client) and records it; client_position() reads it back.
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "userd/base/error.h"
#include "userd/hooks/server_segment.h"
#include "bpf/tcpfo_events.h"
// After tcpfo_events.h, which it builds on.
#include "bpf/snoop.h"

namespace tcpfo {

struct ProbeSpec {
    // A server sequence number the client has acknowledged (any it ever sent, e.g. the
    // repair plan's snd_una): the client's window starts at or after it, so the probe,
    // which ends just before it, lies wholly before the window.
    uint32_t client_acked = 0;
    // The client discards the probe before it reads the ACK field; give what the
    // client has seen acknowledged so the segment makes sense on the wire.
    uint32_t ack = 0;
    uint16_t window = 0;  // raw; likewise not read
    // When the connection uses timestamps: tsval at least every TSval the client saw
    // from the server (PAWS), e.g. the TSval the rebuilt socket will use. An
    // out-of-window segment does not move the client's ts_recent.
    std::optional<TcpTimestamps> timestamps;
    // false: a pure ACK (seq = client_acked - 1, like the kernel's own window probe).
    // Linux answers those at most once per net.ipv4.tcp_invalid_ratelimit (500 ms) per
    // socket. true: one byte of old data, [client_acked - 2, client_acked - 1), which
    // tcp_oow_rate_limited() never limits ("data packets are not likely part of an ACK
    // loop"): answered every time, with a D-SACK block for that byte when SACK is on.
    bool with_byte = false;
};

// Builds the probe into `out` (kMaxServerSegmentBytes) and returns its length.
size_t build_probe_packet(const tcpfo_conn_key& key, const ProbeSpec& probe, uint8_t* out);

// Where the client is, from a hold record.
struct ClientPosition {
    uint32_t snd_nxt = 0;  // its next new byte: the rebuilt socket has to take bytes up to here
    uint32_t rcv_nxt = 0;  // the next server byte it expects: the rebuilt socket's snd_nxt
    uint16_t window = 0;   // raw window of its latest segment
    // Its latest TSval (the tsecr of our next segments) and TSecr (the last server
    // TSval it took: the rebuilt socket's TSval must not be below it).
    std::optional<TcpTimestamps> timestamps;
    bool sack_seen = false;
};

// The position once the client has sent a pure ACK during the hold (its answer to a
// probe; a pure ACK carries snd_nxt exactly). nullopt before that.
std::optional<ClientPosition> client_position(const tcpfo_held_client& record);

// True when `now` holds a pure ACK that `before` (read just before the probe was sent)
// did not: the client has answered.
bool probe_answered(const tcpfo_held_client& before, const tcpfo_held_client& now);

// The TSval a socket would put on its next segment (TCP_TIMESTAMP). A segment sent on
// the socket's behalf must not carry more: the client's ts_recent would then run
// ahead of the socket and PAWS would drop the socket's own segments.
Result<uint32_t> socket_tsval(int fd);

}  // namespace tcpfo
