#include "userd/takeover/tcp_repair.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <fmt/core.h>

namespace tcpfo {
namespace {

// The kernel refuses larger shifts (RFC 7323 caps the window scale at 14).
constexpr uint8_t max_window_scale = 14;
// Output restored as already sent must fit a send buffer we size for it; more than this
// between snd_una and snd_nxt is not a state a primary can have been in on our links.
constexpr uint32_t max_sent_unacked = 64u << 20;
// Smallest MSS the kernel keeps (TCP_MIN_MSS); below it every segment is mostly header.
constexpr uint16_t min_mss = 88;

std::string describe_address(const sockaddr_in& a) {
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
    return fmt::format("{}:{}", text, ntohs(a.sin_port));
}

template <class T>
int set_option(int fd, int level, int name, const T& value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

// Points TCP_QUEUE_SEQ at one queue and sets its sequence. Only accepted while the
// socket is in repair mode and still closed (before the repaired connect()).
int set_queue_seq(int fd, int queue, uint32_t seq) {
    if (set_option(fd, SOL_TCP, TCP_REPAIR_QUEUE, queue) < 0) return -1;
    return set_option(fd, SOL_TCP, TCP_QUEUE_SEQ, seq);
}

int get_queue_seq(int fd, int queue, uint32_t* seq) {
    if (set_option(fd, SOL_TCP, TCP_REPAIR_QUEUE, queue) < 0) return -1;
    socklen_t len = sizeof(*seq);
    return getsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, seq, &len);
}

// The largest window a scale allows to announce; offering more than this is impossible.
uint64_t max_window_for_scale(bool wscale_ok, uint8_t scale) {
    return wscale_ok ? uint64_t{65535} << scale : uint64_t{65535};
}

}  // namespace

std::string describe_connection(const sockaddr_in& local, const sockaddr_in& remote) {
    return describe_address(local) + "<-" + describe_address(remote);
}

Result<void> validate_repair_state(const RepairState& s) {
    const std::string conn = describe_connection(s.local, s.remote);
    auto invalid = [&](std::string why) {
        return fail("invalid repair state for {}: {}", conn, why);
    };
    if (s.local.sin_family != AF_INET || s.remote.sin_family != AF_INET)
        return invalid("addresses must be AF_INET");
    if (s.local.sin_addr.s_addr == INADDR_ANY || s.remote.sin_addr.s_addr == INADDR_ANY)
        return invalid("address is 0.0.0.0");
    if (s.local.sin_port == 0 || s.remote.sin_port == 0) return invalid("port is 0");
    if (s.mss < min_mss) return invalid(fmt::format("MSS {} below {}", s.mss, min_mss));
    if (s.wscale_ok && (s.snd_wscale > max_window_scale || s.rcv_wscale > max_window_scale))
        return invalid(fmt::format("window scale {}/{} above {}", s.snd_wscale, s.rcv_wscale,
                                   max_window_scale));
    if (!s.wscale_ok && (s.snd_wscale != 0 || s.rcv_wscale != 0))
        return invalid("window scale given but not negotiated");
    if (s.snd_nxt - s.snd_una > max_sent_unacked)
        return invalid(fmt::format("snd_nxt {} is not within {} bytes after snd_una {}", s.snd_nxt,
                                   max_sent_unacked, s.snd_una));
    if (s.rcv_wnd == 0) return invalid("receive window 0 would stall the client");
    if (s.rcv_wnd > max_window_for_scale(s.wscale_ok, s.rcv_wscale))
        return invalid(fmt::format("receive window {} too large for scale {}", s.rcv_wnd,
                                   s.rcv_wscale));
    if (s.snd_wnd > max_window_for_scale(s.wscale_ok, s.snd_wscale))
        return invalid(fmt::format("send window {} too large for scale {}", s.snd_wnd,
                                   s.snd_wscale));
    return {};
}

Result<UniqueFd> rebuild_connection(const RepairState& s, std::span<const uint8_t> sent_unacked) {
    if (auto ok = validate_repair_state(s); !ok) return std::unexpected(ok.error());
    const std::string conn = describe_connection(s.local, s.remote);
    if (sent_unacked.size() != uint32_t(s.snd_nxt - s.snd_una))
        return fail("can't rebuild {}: {} bytes given for the {} between snd_una and snd_nxt", conn,
                    sent_unacked.size(), uint32_t(s.snd_nxt - s.snd_una));
    auto step_failed = [&](const char* step) {
        return sys_fail(errno, "can't rebuild {}: {}", conn, step);
    };

    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!fd) return step_failed("socket");

    // Repair mode first: the queue sequences below are accepted only in repair mode, and
    // it makes connect() go straight to ESTABLISHED without a SYN. It also sets the
    // socket's reuse mode to "force", which is what lets bind() take VIP:port while the
    // replica listens on 0.0.0.0:port. SO_REUSEADDR must never be set after this: it
    // overwrites that mode and bind() fails with EADDRINUSE.
    if (set_option(fd.get(), SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_ON}) < 0)
        return step_failed("TCP_REPAIR on");

    // Before bind() and connect(): the VIP is not local yet (it is claimed only after
    // every socket is rebuilt). IP_TRANSPARENT lets bind() take a foreign address and
    // lets connect()'s route lookup use it as source; IP_FREEBIND alone passes bind()
    // but connect() then fails with ENETUNREACH.
    if (set_option(fd.get(), SOL_IP, IP_TRANSPARENT, int{1}) < 0)
        return step_failed("IP_TRANSPARENT");

    // Sequences before connect(): the kernel takes TCP_QUEUE_SEQ only on a closed
    // socket, and connect() derives the rest from them (snd_una = snd_nxt = write_seq,
    // rcv_wup = copied_seq = rcv_nxt). The send queue starts at snd_una, where the
    // client expects the bytes it has not acknowledged; the restored output and then
    // the caller's writes follow on from there.
    if (set_queue_seq(fd.get(), TCP_RECV_QUEUE, s.rcv_nxt) < 0)
        return step_failed("receive queue sequence");
    if (set_queue_seq(fd.get(), TCP_SEND_QUEUE, s.snd_una) < 0)
        return step_failed("send queue sequence");
    // Leave no queue selected, so nothing below can add bytes to a queue by mistake.
    if (set_option(fd.get(), SOL_TCP, TCP_REPAIR_QUEUE, int{TCP_NO_QUEUE}) < 0)
        return step_failed("TCP_REPAIR_QUEUE off");

    // The MSS as a user setting before connect(): connect() sizes the segments from it
    // (mss_cache). The clamp set later through TCP_REPAIR_OPTIONS does not resize them,
    // and without this the socket sent 524-byte segments (from the 536 default).
    if (set_option(fd.get(), SOL_TCP, TCP_MAXSEG, int{s.mss}) < 0) return step_failed("TCP_MAXSEG");

    // The output the primary already sent, counted as sent, needs room in the send
    // buffer until the client acknowledges it (a repair-mode send blocks on a full
    // buffer, and no ACK can arrive to free it). SO_SNDBUFFORCE may exceed wmem_max;
    // it also fixes the size (no autotuning), at least what the primary had in flight.
    if (!sent_unacked.empty()) {
        int sndbuf = 0;
        socklen_t len = sizeof(sndbuf);
        getsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
        // The kernel doubles the value given and counts skb overhead against it.
        const int needed = static_cast<int>(sent_unacked.size()) + (256 << 10);
        if (sndbuf / 2 < needed && set_option(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, needed) < 0)
            return step_failed("SO_SNDBUFFORCE");
    }

    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&s.local), sizeof(s.local)) < 0)
        return step_failed("bind");
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&s.remote), sizeof(s.remote)) < 0)
        return step_failed("connect");

    // Options after connect() and before any byte is queued: the kernel accepts
    // TCP_REPAIR_OPTIONS only on an ESTABLISHED socket that has not sent a byte yet,
    // and connect() itself resets them to what a fresh SYN would have offered.
    tcp_repair_opt options[4];
    unsigned count = 0;
    options[count++] = {TCPOPT_MAXSEG, s.mss};
    if (s.wscale_ok)
        options[count++] = {TCPOPT_WINDOW,
                            uint32_t{s.snd_wscale} | (uint32_t{s.rcv_wscale} << 16)};
    if (s.sack_ok) options[count++] = {TCPOPT_SACK_PERMITTED, 0};
    if (s.timestamps_ok) options[count++] = {TCPOPT_TIMESTAMP, 0};
    if (setsockopt(fd.get(), SOL_TCP, TCP_REPAIR_OPTIONS, options,
                   count * sizeof(tcp_repair_opt)) < 0)
        return step_failed("TCP_REPAIR_OPTIONS");

    // The timestamp offset after connect() (a repaired connect() leaves it alone, but
    // it is the last word only once the connection exists). Since Linux 6.7 the low bit
    // of the value selects microsecond timestamps; rounding up to even keeps the
    // millisecond clock and still never goes below what the client saw, so its PAWS
    // check accepts our segments.
    if (s.timestamps_ok) {
        const uint32_t tsval = s.tsval + (s.tsval & 1u);
        if (set_option(fd.get(), SOL_TCP, TCP_TIMESTAMP, tsval) < 0)
            return step_failed("TCP_TIMESTAMP");
    }

    // Restore [snd_una, snd_nxt) after connect() (the queue needs an established
    // connection) and before the window (sending into the repair send queue ignores
    // the window anyway). In repair mode with TCP_SEND_QUEUE selected the kernel queues
    // these bytes as sent without transmitting them, so snd_nxt = the primary's, and
    // any ACK up to it is valid here.
    if (!sent_unacked.empty()) {
        if (set_option(fd.get(), SOL_TCP, TCP_REPAIR_QUEUE, int{TCP_SEND_QUEUE}) < 0)
            return step_failed("TCP_REPAIR_QUEUE send");
        size_t done = 0;
        while (done < sent_unacked.size()) {
            const ssize_t n = send(fd.get(), sent_unacked.data() + done, sent_unacked.size() - done,
                                   MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0) return step_failed("restoring sent output");
            done += static_cast<size_t>(n);
        }
        if (set_option(fd.get(), SOL_TCP, TCP_REPAIR_QUEUE, int{TCP_NO_QUEUE}) < 0)
            return step_failed("TCP_REPAIR_QUEUE off");
    }

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
    if (set_option(fd.get(), SOL_TCP, TCP_REPAIR_WINDOW, window) < 0)
        return step_failed("TCP_REPAIR_WINDOW");

    // Leave repair mode without the window probe a plain TCP_REPAIR_OFF sends: the VIP
    // is not local yet, so the client's answer would be lost, and the client answers
    // such probes only once per 500 ms, so the one request_ack() sends after the
    // announcement would then go unanswered.
    if (set_option(fd.get(), SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_OFF_NO_WP}) < 0)
        return step_failed("TCP_REPAIR off");
    return fd;
}

Result<void> request_ack(int fd) {
    // Leaving repair mode with TCP_REPAIR_OFF is the kernel's one way to send a window
    // probe on demand; entering it on a live connection changes nothing else.
    if (set_option(fd, SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_ON}) < 0)
        return sys_fail(errno, "can't probe socket {}: TCP_REPAIR on", fd);
    if (set_option(fd, SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_OFF}) < 0)
        return sys_fail(errno, "can't probe socket {}: TCP_REPAIR off", fd);
    return {};
}

Result<RepairState> snapshot_connection(int fd) {
    auto step_failed = [&](const char* step) {
        return sys_fail(errno, "can't snapshot socket {}: {}", fd, step);
    };
    RepairState s;
    socklen_t len = sizeof(s.local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&s.local), &len) < 0)
        return step_failed("getsockname");
    len = sizeof(s.remote);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&s.remote), &len) < 0)
        return step_failed("getpeername");
    if (s.local.sin_family != AF_INET)
        return fail("can't snapshot socket {}: not an IPv4 socket", fd);
    const std::string conn = describe_connection(s.local, s.remote);
    auto conn_failed = [&](const char* step) {
        return sys_fail(errno, "can't snapshot {}: {}", conn, step);
    };

    tcp_info info{};
    len = sizeof(info);
    if (getsockopt(fd, SOL_TCP, TCP_INFO, &info, &len) < 0) return conn_failed("TCP_INFO");
    if (info.tcpi_state != TCP_ESTABLISHED)
        return fail("can't snapshot {}: state {} is not ESTABLISHED", conn, info.tcpi_state);
    s.wscale_ok = info.tcpi_options & TCPI_OPT_WSCALE;
    if (s.wscale_ok) {
        s.snd_wscale = info.tcpi_snd_wscale;
        s.rcv_wscale = info.tcpi_rcv_wscale;
    }
    s.sack_ok = info.tcpi_options & TCPI_OPT_SACK;
    s.timestamps_ok = info.tcpi_options & TCPI_OPT_TIMESTAMPS;

    // Everything below reads repair-only state; repair mode also freezes nothing on the
    // wire, so a caller wanting a consistent picture cuts the traffic first.
    if (set_option(fd, SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_ON}) < 0)
        return conn_failed("TCP_REPAIR on");
    auto read_state = [&]() -> Result<void> {
        int outq = 0;
        // SIOCOUTQ = write_seq - snd_una: what is queued and not acknowledged yet.
        if (ioctl(fd, SIOCOUTQ, &outq) < 0) return conn_failed("SIOCOUTQ");
        int unsent = 0;  // SIOCOUTQNSD = write_seq - snd_nxt: queued, never sent
        if (ioctl(fd, SIOCOUTQNSD, &unsent) < 0) return conn_failed("SIOCOUTQNSD");
        uint32_t write_seq = 0;
        if (get_queue_seq(fd, TCP_SEND_QUEUE, &write_seq) < 0)
            return conn_failed("send queue sequence");
        s.snd_una = write_seq - static_cast<uint32_t>(outq);
        s.snd_nxt = write_seq - static_cast<uint32_t>(unsent);
        if (get_queue_seq(fd, TCP_RECV_QUEUE, &s.rcv_nxt) < 0)
            return conn_failed("receive queue sequence");
        if (set_option(fd, SOL_TCP, TCP_REPAIR_QUEUE, int{TCP_NO_QUEUE}) < 0)
            return conn_failed("TCP_REPAIR_QUEUE off");

        int mss = 0;  // in repair mode TCP_MAXSEG reports the clamp, not the current MSS
        len = sizeof(mss);
        if (getsockopt(fd, SOL_TCP, TCP_MAXSEG, &mss, &len) < 0) return conn_failed("TCP_MAXSEG");
        s.mss = static_cast<uint16_t>(mss);

        tcp_repair_window window{};
        len = sizeof(window);
        if (getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &window, &len) < 0)
            return conn_failed("TCP_REPAIR_WINDOW");
        s.snd_wnd = window.snd_wnd;
        // The right edge we promised is rcv_wup + rcv_wnd; rebuilt from rcv_nxt it is
        // that edge minus rcv_nxt, so the client is never offered less than before.
        s.rcv_wnd = window.rcv_wup + window.rcv_wnd - s.rcv_nxt;

        if (s.timestamps_ok) {
            len = sizeof(s.tsval);
            if (getsockopt(fd, SOL_TCP, TCP_TIMESTAMP, &s.tsval, &len) < 0)
                return conn_failed("TCP_TIMESTAMP");
        }
        return {};
    };
    auto read = read_state();
    // Leave without the window probe a plain TCP_REPAIR_OFF sends: a snapshot should
    // not put anything on the wire.
    if (set_option(fd, SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_OFF_NO_WP}) < 0 && read)
        return conn_failed("TCP_REPAIR off");
    if (!read) return std::unexpected(read.error());
    return s;
}

Result<void> close_silently(UniqueFd fd) {
    // In repair mode close() drops the connection without FIN or RST (tcp_disconnect
    // skips the reset for repaired sockets), as if the node had lost power.
    if (set_option(fd.get(), SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_ON}) < 0)
        return sys_fail(errno, "can't close socket {} silently: TCP_REPAIR on", fd.get());
    fd.reset();
    return {};
}

}  // namespace tcpfo
