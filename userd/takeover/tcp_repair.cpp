#include "userd/takeover/tcp_repair.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>

#include <fmt/core.h>

#include "userd/base/split_in_two.h"
#include "userd/takeover/repair_ring.h"
#include "userd/takeover/repair_steps.h"

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
    // The connection's name is formatted only on failure: this runs once per socket
    // at takeover.
    auto invalid = [&](std::string why) {
        return fail("invalid repair state for {}: {}", describe_connection(s.local, s.remote), why);
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

Result<PreparedSocket> prepare_repair_socket(const sockaddr_in& local, const sockaddr_in& remote,
                                             uint16_t mss) {
    auto step_failed = [&](const char* step) {
        return sys_fail(errno, "can't rebuild {}: {}", describe_connection(local, remote), step);
    };
    if (local.sin_family != AF_INET || remote.sin_family != AF_INET)
        return fail("can't prepare a socket for {}: addresses must be AF_INET",
                    describe_connection(local, remote));
    if (mss != 0 && mss < min_mss)
        return fail("can't prepare a socket for {}: MSS {} below {}", describe_connection(local, remote),
                    mss, min_mss);

    // Nonblocking from the start: the rebuilt socket is driven by the event loop, and a
    // repaired connect() returns at once anyway (no SYN).
    PreparedSocket p;
    p.fd.reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!p.fd) return step_failed("socket");

    // Repair mode first: the queue sequences are accepted only in repair mode, and it
    // makes connect() go straight to ESTABLISHED without a SYN. It also sets the
    // socket's reuse mode to "force", which is what lets bind() take VIP:port while the
    // replica listens on 0.0.0.0:port (and next to every other prepared socket; force
    // reuse also skips the bind-conflict walk, so binding stays O(1) at any count).
    // SO_REUSEADDR must never be set after this: it overwrites that mode and bind()
    // fails with EADDRINUSE.
    if (set_option(p.fd.get(), SOL_TCP, TCP_REPAIR, int{TCP_REPAIR_ON}) < 0)
        return step_failed("TCP_REPAIR on");

    // Before bind() and connect(): the VIP is not local yet (it is claimed only after
    // every socket is rebuilt). IP_TRANSPARENT lets bind() take a foreign address and
    // lets connect()'s route lookup use it as source; IP_FREEBIND alone passes bind()
    // but connect() then fails with ENETUNREACH.
    if (set_option(p.fd.get(), SOL_IP, IP_TRANSPARENT, int{1}) < 0)
        return step_failed("IP_TRANSPARENT");

    // The MSS as a user setting before connect(): connect() sizes the segments from it
    // (mss_cache). The clamp set later through TCP_REPAIR_OPTIONS does not resize them,
    // and without this the socket sent 524-byte segments (from the 536 default).
    if (mss != 0) {
        if (set_option(p.fd.get(), SOL_TCP, TCP_MAXSEG, int{mss}) < 0) return step_failed("TCP_MAXSEG");
        p.mss = mss;
    }

    // Nagle off, as in the splice's feed sockets: the splice writes what the replica
    // wrote as soon as it reads it, and with Nagle each write's last partial segment
    // waited for the client's ACK of the one before, which a client in delayed-ACK mode
    // sends up to 40 ms later (failover_many's echo connections after the takeover:
    // gaps of 40 ms with the CPU idle). The bytes on the wire are the same either way.
    if (set_option(p.fd.get(), SOL_TCP, TCP_NODELAY, int{1}) < 0) return step_failed("TCP_NODELAY");

    if (bind(p.fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) < 0)
        return step_failed("bind");

    // Select the receive queue now: finish_rebuild() then starts with its sequence.
    // Selecting a queue changes nothing else on a closed socket.
    if (set_option(p.fd.get(), SOL_TCP, TCP_REPAIR_QUEUE, int{TCP_RECV_QUEUE}) < 0)
        return step_failed("TCP_REPAIR_QUEUE receive");
    return p;
}

Result<UniqueFd> finish_rebuild(PreparedSocket prepared, const RepairState& s,
                                std::span<const uint8_t> sent_unacked) {
    // On any failure below `prepared.fd` closes while still in repair mode, which puts
    // nothing on the wire (tcp_disconnect skips the reset of a repaired socket).
    if (auto ok = check_rebuild_job(prepared, s, sent_unacked); !ok) return std::unexpected(ok.error());
    // The steps and why each comes where it does: repair_steps.cpp.
    const RepairSteps steps = repair_steps(prepared, s, sent_unacked.size());
    for (const RepairStep& step : steps.view())
        if (!run_repair_step(prepared.fd.get(), step, sent_unacked))
            return sys_fail(errno, "can't rebuild {}: {}", describe_connection(s.local, s.remote), step.what);
    return std::move(prepared.fd);
}

Result<void> check_rebuild_job(const PreparedSocket& prepared, const RepairState& s,
                               std::span<const uint8_t> sent_unacked) {
    if (!prepared.fd)
        return fail("can't rebuild {}: no prepared socket", describe_connection(s.local, s.remote));
    if (auto ok = validate_repair_state(s); !ok) return std::unexpected(ok.error());
    if (sent_unacked.size() != uint32_t(s.snd_nxt - s.snd_una))
        return fail("can't rebuild {}: {} bytes given for the {} between snd_una and snd_nxt",
                    describe_connection(s.local, s.remote), sent_unacked.size(), uint32_t(s.snd_nxt - s.snd_una));
    return {};
}

Result<UniqueFd> rebuild_connection(const RepairState& s, std::span<const uint8_t> sent_unacked) {
    if (auto ok = validate_repair_state(s); !ok) return std::unexpected(ok.error());
    auto prepared = prepare_repair_socket(s.local, s.remote, s.mss);
    if (!prepared) return std::unexpected(prepared.error());
    return finish_rebuild(std::move(*prepared), s, sent_unacked);
}


namespace {

// One syscall per step, job by job. A job that throws (out of memory while formatting
// its error) gets that as its error; nothing crosses the thread.
void finish_each(std::span<RebuildJob> jobs, std::span<Result<UniqueFd>> results) noexcept {
    for (size_t i = 0; i < jobs.size(); ++i) {
        try {
            results[i] = finish_rebuild(std::move(jobs[i].prepared), jobs[i].state, jobs[i].sent_unacked);
        } catch (...) {
            jobs[i].prepared.fd.reset();
            results[i] = std::unexpected(Error{"can't rebuild a connection: out of memory"});
        }
    }
}

// Through io_uring where it can be used, else one syscall per step.
void finish_part(std::span<RebuildJob> jobs, std::span<Result<UniqueFd>> results, bool use_uring) noexcept {
    try {
        if (use_uring && rebuild_batch_uring(jobs, results)) return;
    } catch (...) {
        // Out of memory part-way: a job left unfinished may have taken some of its
        // steps, so it cannot be finished another way; its socket closes silently.
        for (size_t i = 0; i < jobs.size(); ++i) {
            if (!results[i] || *results[i]) continue;
            jobs[i].prepared.fd.reset();
            results[i] = std::unexpected(Error{"can't rebuild a connection: out of memory"});
        }
        return;
    }
    finish_each(jobs, results);
}

}  // namespace

std::vector<Result<UniqueFd>> rebuild_batch(std::span<RebuildJob> jobs, unsigned max_threads, bool use_uring) {
    // Every slot exists before any thread starts: each thread writes only its own range.
    std::vector<Result<UniqueFd>> results(jobs.size());
    use_uring = use_uring && jobs.size() >= kUringRebuildMin;
    split_in_two(jobs.size(), kParallelRebuildMin, max_threads, [&](size_t begin, size_t end) noexcept {
        finish_part(jobs.subspan(begin, end - begin), std::span(results).subspan(begin, end - begin), use_uring);
    });
    return results;
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
