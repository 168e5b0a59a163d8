#include "userd/takeover/repair_plan.h"

#include <algorithm>

#include "userd/base/inet_address.h"
#include "userd/base/seq.h"

namespace tcpfo {

namespace {

// The dead primary's clock ran on while the client's echo travelled; jumping ahead
// by this much keeps our TSval above anything the client saw. PAWS only rejects
// values below what it has seen, so a larger jump costs nothing.
constexpr uint32_t kTsvalMarginMs = 1000;
// The dead primary's advertised window is not replicated; offer a window the
// rebuilt socket's buffer can surely take. Data the client sent beyond it is
// dropped and retransmitted, never lost.
constexpr uint32_t kMaxOfferedWindow = 4 << 20;
// The client's last replicated window may be stale, and small or zero when a slow
// reader had filled its buffer; the update that reopened it may have gone to the
// dead primary. A rebuilt socket that believes a zero window waits for its
// zero-window probe timer, which starts at the 1 s initial RTO (no RTT sample yet).
// Assume at least this much: if the window is really shut the client drops the
// excess and answers at once with its real window.
constexpr uint32_t kMinAssumedClientWindow = 64 * 1024;
// The primary cannot have sent more than its send buffer beyond the client's last
// acknowledgement; a position further ahead is not believed.
constexpr uint64_t kMaxPlausibleUnacked = 64u << 20;

bool both(const ConnOpenRecord& c, uint8_t option) {
    return (c.client_options.present & option) && (c.server_options.present & option);
}

}  // namespace

uint16_t rebuilt_mss(const ConnOpenRecord& c) {
    return (c.client_options.present & TCPFO_OPT_MSS) ? c.client_options.mss : 536;
}

std::optional<uint64_t> client_received_offset(const ConnOpenRecord& c, const ReplicaOutput& output,
                                               const ClientPosition& position) {
    const uint32_t acked_seq = offset_to_seq(output.acked(), c.server_isn + 1);
    const int32_t ahead = int32_t(position.rcv_nxt - acked_seq);
    if (ahead < 0 || uint64_t(ahead) > kMaxPlausibleUnacked) return std::nullopt;
    return output.acked() + uint64_t(ahead);
}

RepairState repair_state_for(const ConnOpenRecord& c, const InputLog& log, const ReplicaOutput& output,
                             const ClientView& client, uint64_t now_ms, const std::optional<ClientPosition>& position) {
    RepairState s;
    s.local = make_endpoint(c.vip_addr, c.vip_port);
    s.remote = make_endpoint(c.client_addr, c.client_port);
    // Resume sending where the client's acknowledgement stands; anything it got
    // beyond that is sent again and discarded by the client.
    s.snd_una = offset_to_seq(output.acked(), c.server_isn + 1);
    // Nothing goes into the send queue as already sent: the splice writes the
    // unacknowledged output after repair, so it leaves at once instead of waiting for
    // a retransmission timer (1 s on a socket without an RTT sample). A client that
    // acknowledged more than this socket has sent is handled by the ingress ACK
    // ceiling (bpf/snoop.bpf.c), which lowers its ACKs to our snd_nxt.
    s.snd_nxt = s.snd_una;
    const bool placed = position && client_received_offset(c, output, *position);
    if (placed) s.snd_una = s.snd_nxt = position->rcv_nxt;
    // Expect the first byte the backup does not hold (the FIN counts as one).
    s.rcv_nxt = offset_to_seq(log.stable(), c.client_isn + 1);
    s.mss = rebuilt_mss(c);
    s.wscale_ok = both(c, TCPFO_OPT_WSCALE);
    s.snd_wscale = s.wscale_ok ? c.client_options.wscale : 0;
    s.rcv_wscale = s.wscale_ok ? c.server_options.wscale : 0;
    s.sack_ok = both(c, TCPFO_OPT_SACK_PERM);
    s.timestamps_ok = both(c, TCPFO_OPT_TIMESTAMPS);
    if (s.timestamps_ok && client.known)
        s.tsval = client.tsecr + uint32_t(now_ms - client.heard_at_ms) + kTsvalMarginMs;
    else if (s.timestamps_ok)
        s.tsval = uint32_t(now_ms) + kTsvalMarginMs;
    if (s.timestamps_ok && placed && position->timestamps &&
        seq_after(position->timestamps->tsecr + kTsvalMarginMs, s.tsval))
        s.tsval = position->timestamps->tsecr + kTsvalMarginMs;
    const uint32_t window = placed ? position->window : client.known ? client.window : 65535;
    // The window in the client's answer to the probe is its own, of a moment ago, and
    // can only have grown since, which the client announces: believe it however small.
    // The floor is for a stale window only. Sending beyond a fresh one loses the whole
    // first flight (the client drops it), and the rebuilt socket, which counts it in
    // flight, ignores the client's window update and resends only at its 1 s initial
    // RTO (seen in failover_many: a download client with a full buffer answered with a
    // 128-byte window, 14 KB went out and were dropped, 917 ms stall).
    s.snd_wnd = placed ? window << s.snd_wscale : std::max<uint32_t>(window << s.snd_wscale, kMinAssumedClientWindow);
    s.rcv_wnd = std::min<uint32_t>(uint32_t(65535) << s.rcv_wscale, kMaxOfferedWindow);
    return s;
}

}  // namespace tcpfo
