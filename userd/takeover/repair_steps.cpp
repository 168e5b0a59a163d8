#include "userd/takeover/repair_steps.h"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

namespace tcpfo {
namespace {

RepairStep& add(RepairSteps& list, RepairStep::Kind kind, const char* what) {
    RepairStep& step = list.steps[list.count++];
    step = RepairStep{};
    step.kind = kind;
    step.what = what;
    return step;
}

template <class T>
void add_option(RepairSteps& list, int level, int name, const T& value, const char* what) {
    static_assert(sizeof(T) <= sizeof(RepairStep::value));
    RepairStep& step = add(list, RepairStep::Kind::setsockopt, what);
    step.level = level;
    step.name = name;
    step.length = sizeof(T);
    std::memcpy(step.value.data(), &value, sizeof(T));
}

}  // namespace

RepairSteps repair_steps(const PreparedSocket& prepared, const RepairState& s, size_t sent_unacked_bytes) {
    RepairSteps list;
    // Sequences before connect(): the kernel takes TCP_QUEUE_SEQ only on a closed
    // socket, and connect() derives the rest from them (snd_una = snd_nxt = write_seq,
    // rcv_wup = copied_seq = rcv_nxt). The send queue starts at snd_una, where the
    // client expects the bytes it has not acknowledged; the restored output and then
    // the caller's writes follow on from there. prepare_repair_socket() selected the
    // receive queue; the send queue stays selected afterwards, which only matters to a
    // send() in repair mode: the restore below, which wants exactly that queue.
    add_option(list, SOL_TCP, TCP_QUEUE_SEQ, s.rcv_nxt, "receive queue sequence");
    add_option(list, SOL_TCP, TCP_REPAIR_QUEUE, int{TCP_SEND_QUEUE}, "send queue");
    add_option(list, SOL_TCP, TCP_QUEUE_SEQ, s.snd_una, "send queue sequence");
    if (prepared.mss != s.mss) add_option(list, SOL_TCP, TCP_MAXSEG, int{s.mss}, "TCP_MAXSEG");

    // The output the primary already sent, counted as sent, needs room in the send
    // buffer until the client acknowledges it (a repair-mode send blocks on a full
    // buffer, and no ACK can arrive to free it). SO_SNDBUFFORCE may exceed wmem_max;
    // it also fixes the size (no autotuning), at least what the primary had in flight.
    if (sent_unacked_bytes > 0) {
        RepairStep& step = add(list, RepairStep::Kind::size_send_buffer, "SO_SNDBUFFORCE");
        const uint32_t needed = uint32_t(sent_unacked_bytes) + (256u << 10);
        step.length = sizeof needed;
        std::memcpy(step.value.data(), &needed, sizeof needed);
    }

    RepairStep& connect_step = add(list, RepairStep::Kind::connect, "connect");
    connect_step.length = sizeof s.remote;
    std::memcpy(connect_step.value.data(), &s.remote, sizeof s.remote);

    // Options after connect() and before any byte is queued: the kernel accepts
    // TCP_REPAIR_OPTIONS only on an ESTABLISHED socket that has not sent a byte yet,
    // and connect() itself resets them to what a fresh SYN would have offered.
    std::array<tcp_repair_opt, 4> options{};
    unsigned count = 0;
    options[count++] = {TCPOPT_MAXSEG, s.mss};
    if (s.wscale_ok) options[count++] = {TCPOPT_WINDOW, uint32_t{s.snd_wscale} | (uint32_t{s.rcv_wscale} << 16)};
    if (s.sack_ok) options[count++] = {TCPOPT_SACK_PERMITTED, 0};
    if (s.timestamps_ok) options[count++] = {TCPOPT_TIMESTAMP, 0};
    add_option(list, SOL_TCP, TCP_REPAIR_OPTIONS, options, "TCP_REPAIR_OPTIONS");
    list.steps[list.count - 1].length = uint32_t(count * sizeof(tcp_repair_opt));

    // The timestamp offset after connect() (a repaired connect() leaves it alone, but
    // it is the last word only once the connection exists). Since Linux 6.7 the low bit
    // of the value selects microsecond timestamps; rounding up to even keeps the
    // millisecond clock and still never goes below what the client saw, so its PAWS
    // check accepts our segments.
    if (s.timestamps_ok) add_option(list, SOL_TCP, TCP_TIMESTAMP, s.tsval + (s.tsval & 1u), "TCP_TIMESTAMP");

    // Restore [snd_una, snd_nxt) after connect() (the queue needs an established
    // connection) and before the window (sending into the repair send queue ignores
    // the window anyway). In repair mode with TCP_SEND_QUEUE selected (it still is)
    // the kernel queues these bytes as sent without transmitting them, so snd_nxt =
    // the primary's, and any ACK up to it is valid here.
    if (sent_unacked_bytes > 0) add(list, RepairStep::Kind::restore_output, "restoring sent output");

    // The window after connect(), which initialised it for a new connection. The kernel
    // checks rcv_wup against rcv_nxt and snd_wl1 against rcv_nxt + rcv_wnd. rcv_wup =
    // rcv_nxt puts our right edge at rcv_nxt + rcv_wnd. snd_wl1 = rcv_nxt - 1 lets the
    // client's next segment, whatever it carries, update our view of its window.
    tcp_repair_window window{};
    window.snd_wl1 = s.rcv_nxt - 1;
    window.snd_wnd = s.snd_wnd;
    window.max_window = s.snd_wnd;
    window.rcv_wnd = s.rcv_wnd;
    window.rcv_wup = s.rcv_nxt;
    add_option(list, SOL_TCP, TCP_REPAIR_WINDOW, window, "TCP_REPAIR_WINDOW");

    // Leave repair mode without the window probe a plain TCP_REPAIR_OFF sends: the VIP
    // is not local yet, so the client's answer would be lost, and the client answers
    // such probes only once per 500 ms, so the one request_ack() sends after the
    // announcement would then go unanswered.
    add_option(list, SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_OFF_NO_WP}, "TCP_REPAIR off");
    return list;
}

bool run_repair_step(int fd, const RepairStep& step, std::span<const uint8_t> sent_unacked) {
    switch (step.kind) {
        case RepairStep::Kind::setsockopt:
            return setsockopt(fd, step.level, step.name, step.value.data(), step.length) == 0;
        case RepairStep::Kind::connect:
            return connect(fd, reinterpret_cast<const sockaddr*>(step.value.data()), step.length) == 0;
        case RepairStep::Kind::size_send_buffer: {
            uint32_t needed = 0;
            std::memcpy(&needed, step.value.data(), sizeof needed);
            int sndbuf = 0;
            socklen_t len = sizeof sndbuf;
            getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
            // The kernel doubles the value given and counts skb overhead against it.
            if (sndbuf / 2 >= int(needed)) return true;
            const int value = int(needed);
            return setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &value, sizeof value) == 0;
        }
        case RepairStep::Kind::restore_output: {
            size_t done = 0;
            while (done < sent_unacked.size()) {
                const ssize_t n = send(fd, sent_unacked.data() + done, sent_unacked.size() - done,
                                       MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) return false;
                if (n == 0) {
                    errno = ENOBUFS;
                    return false;
                }
                done += size_t(n);
            }
            return true;
        }
    }
    errno = EINVAL;
    return false;
}

}  // namespace tcpfo
