// Making an unmodified Linux client resend at once the bytes the dead primary took with
// it (DESIGN.md, Takeover step 5), instead of at its retransmission timer (>= 200 ms).
//
// L ("held_end") is the end of what the backup holds of the client's stream (the
// rebuilt socket's rcv_nxt); N is the client's snd_nxt (learned by the probe,
// client_probe.h). The bytes [L, N) are lost with the primary; the client still has
// them, because it frees nothing that was not acknowledged cumulatively.
//
// SACK clients: one ACK with ack = L and a SACK block covering the client's last sent
// segment, [max(L + 1, N - mss), N). The block is valid for the client (it lies within
// (snd_una, snd_nxt] once the ACK moved snd_una to L). RACK marks every segment sent
// before the SACKed one lost, and the client resends them at once. When the rebuilt
// socket then acknowledges up to the SACKed block, the client sees the receiver
// "reneged" (RFC 2018 allows it) and resends that part after max(srtt/2, 10 ms)
// (tcp_check_sack_reneging). A block that only partly covers a one-segment skb marks
// nothing (tcp_match_skb_to_sack): a client with one segment outstanding starting at L
// cannot be prompted this way, and its TLP or RTO resends it.
//
// Clients without SACK: duplicate ACKs, ack = L, the window the client last saw, no
// data. Reno counts at most packets_out - 1 of them (tcp_limit_reno_sacked) and needs
// 3: fast retransmit happens only with at least 4 segments outstanding; after it,
// NewReno resends one hole per partial ACK.
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "userd/base/error.h"
#include "userd/hooks/nudge_sender.h"
#include "userd/hooks/server_segment.h"
#include "bpf/tcpfo_events.h"

namespace tcpfo {

struct ResendContext {
    tcpfo_conn_key key{};
    uint32_t seq = 0;             // the client's rcv_nxt (= the rebuilt socket's snd_nxt)
    uint32_t held_end = 0;        // L
    uint32_t client_snd_nxt = 0;  // N
    // The payload size of the client's full segments (its TCP_INFO snd_mss: the MSS the
    // server announced, less 12 with timestamps). Too large is harmless (the block
    // grows, clamped to L + 1); too small can leave a one-segment skb partly covered.
    uint32_t client_mss = 0;
    uint16_t window = 0;  // raw: the rebuilt socket's window (dupacks: the one the client last saw)
    // tsval: at most the rebuilt socket's next TSval (socket_tsval()): the prompt is
    // in-window, so the client takes it as ts_recent. tsecr: the client's latest TSval.
    std::optional<TcpTimestamps> timestamps;
};

// [max(L + 1, N - mss), N), or nullopt when fewer than 2 bytes are missing (no block
// can lie after L) or N is not after L.
std::optional<SackBlock> resend_prompt_block(uint32_t held_end, uint32_t client_snd_nxt, uint32_t client_mss);

// The SACK prompt; 0 if no block can be formed (see resend_prompt_block).
size_t build_resend_prompt(const ResendContext& context, uint8_t* out);

// One duplicate ACK (send it kResendDupacks times). 0 if N is not after L.
size_t build_resend_dupack(const ResendContext& context, uint8_t* out);

// One plain ACK for L, whatever N is. For a client with nothing to resend (N == L, or
// a one-byte gap no block can describe): the dead primary's clamp may have kept it
// from seeing L acknowledged, and nothing else tells it (an upload's rebuilt socket has
// no data to send, and the probe's ACK field is ignored: it lies below the client's
// window). Without it the client learns at its retransmission timer: seen in
// failover_many, an upload client whose bytes were all logged silent for 240 ms until
// its RTO resent its first unacknowledged segment, which the rebuilt socket then
// acknowledged. Sent to a client that had seen L already, it is one duplicate ACK.
size_t build_held_ack(const ResendContext& context, uint8_t* out);

// build_held_ack() sent through the nudge socket.
Result<void> acknowledge_held(NudgeSender& sender, const ResendContext& context);

// The first ACK may move the client's snd_una to L or update its window (both make it
// "not a duplicate"); the three after it are the dupacks fast retransmit needs.
constexpr int kResendDupacks = 4;

enum class ResendMethod {
    none,         // nothing missing (N == L), or a one-byte gap only the client's timers can fill
    sack_prompt,  // the SACK prompt
    dupacks,      // kResendDupacks duplicate ACKs
};

ResendMethod choose_resend_method(const ResendContext& context, bool sack_ok);

// Sends what choose_resend_method picked through the nudge socket; returns it.
Result<ResendMethod> prompt_resend(NudgeSender& sender, const ResendContext& context, bool sack_ok);

// A lever for what the ACKs above cannot do (one segment outstanding; Reno with fewer
// than 4; a client whose RTO already fired into the void, whose retransmission is
// then "in flight" and blocks its cwnd of 1): ICMP destination unreachable /
// fragmentation needed, quoting the client's segment at `client_seq` (within its
// [snd_una, snd_nxt], e.g. L), with a next-hop MTU just below what its full segments
// need. The client lowers its path MTU to the VIP and tcp_v4_mtu_reduced() ->
// tcp_simple_retransmit() marks every outstanding segment longer than the new MSS lost
// and resends it at once, whatever its congestion state. Costs and limits: the
// client's cached path MTU to the VIP stays lowered for net.ipv4.route.mtu_expires
// (600 s), so each use costs its connections to the VIP some bytes per segment and a
// second use must go lower still; segments shorter than the new MSS (a short last
// write) are not resent; the kernel ignores MTUs below net.ipv4.route.min_pmtu (552).
// Measured, not part of prompt_resend(): the takeover decides whether to pay for it.
size_t build_pmtu_prompt(const tcpfo_conn_key& key, uint32_t client_seq, uint16_t next_hop_mtu, uint8_t* out);
constexpr size_t kPmtuPromptBytes = 20 + 8 + 20 + 8;

// The MTU one byte too small for a full segment of the client (payload client_mss, with
// 12 bytes of timestamps when on): what build_pmtu_prompt needs to resend those.
uint16_t pmtu_prompt_mtu(uint32_t client_mss, bool timestamps);

}  // namespace tcpfo
