// accept() and accept4(): which client's connection the application got, recorded on
// the primary (kind 7) and replayed in the replica, which gets that client's feeder
// connection (feeder_names.h), under the descriptor number the primary got. The same
// numbers make the recorded ready sets and reads name the replica's own descriptors.
// Both modes mark the new descriptor a protected connection (output_gate.h).
//
// Only IPv4 listening sockets are recorded (asked once per listener with getsockname):
// a client on another family is nobody a backup can feed.
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/feeder_names.h"
#include "replay/preload/output_gate.h"
#include "replay/preload/parked_connections.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/raw_calls.h"
#include "replay/preload/real_functions.h"
#include "replay/preload/single_caller.h"
#include "replay/preload/wait_registry.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

int real_accept4(int fd, sockaddr* addr, socklen_t* addr_len, int flags) {
    if (auto real = TCPFO_REAL(accept4)) return real(fd, addr, addr_len, flags);
    return int(syscall(SYS_accept4, fd, addr, addr_len, flags));
}

// Whether accepts on `fd` go into the log: an IPv4 listener.
bool recorded_listener(int fd) {
    if (auto known = listener_is_ipv4(fd)) return *known;
    sockaddr_storage local{};
    socklen_t size = sizeof local;
    const bool ipv4 = raw::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size) == 0 &&
                      local.ss_family == AF_INET;
    note_listener(fd, ipv4);
    return ipv4;
}

// The caller's address buffer gets what the kernel would have written for `from`.
void give_address(const sockaddr_in& from, sockaddr* addr, socklen_t* addr_len) {
    if (addr == nullptr || addr_len == nullptr) return;
    std::memcpy(addr, &from, std::min<size_t>(*addr_len, sizeof from));
    *addr_len = sizeof from;
}

sockaddr_in ipv4_address(uint32_t addr, uint16_t port) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(addr);
    in.sin_port = htons(port);
    return in;
}

// accept4's flags on a descriptor that did not come from this call (a feeder accepted
// earlier, or moved to another number).
bool apply_flags(int fd, int flags) {
    if (raw::fcntl(fd, F_SETFD, (flags & SOCK_CLOEXEC) ? FD_CLOEXEC : 0) != 0) return false;
    const int status = raw::fcntl(fd, F_GETFL);
    if (status < 0) return false;
    const int wanted = (flags & SOCK_NONBLOCK) ? (status | O_NONBLOCK) : (status & ~O_NONBLOCK);
    return wanted == status || raw::fcntl(fd, F_SETFL, wanted) == 0;
}

int record_accept(int fd, sockaddr* addr, socklen_t* addr_len, int flags) {
    sockaddr_storage peer{};
    socklen_t size = sizeof peer;
    const int ret = real_accept4(fd, reinterpret_cast<sockaddr*>(&peer), &size, flags);
    const int err = ret < 0 ? errno : 0;
    AcceptEntry e{fd, ret, err, 0, 0};
    if (ret >= 0 && peer.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
        e.client_addr = ntohl(in.sin_addr.s_addr);
        e.client_port = ntohs(in.sin_port);
    }
    record_entry(e);
    if (ret >= 0) {
        protect_socket(ret, true);
        if (addr != nullptr && addr_len != nullptr) {
            std::memcpy(addr, &peer, std::min(*addr_len, size));
            *addr_len = size;
        }
    }
    if (ret < 0) errno = err;
    return ret;
}

std::string client_text(uint32_t addr, uint16_t port) {
    char text[INET_ADDRSTRLEN] = "?";
    const in_addr in{htonl(addr)};
    inet_ntop(AF_INET, &in, text, sizeof text);
    return std::string(text) + ":" + std::to_string(port);
}

// The feeder connection from `feeder_port`, parked or still in the listener's queue
// (waited for, even on a nonblocking listener: the backup opened it before it passed
// the accept on). Others accepted on the way are parked. -1 after a divergence, and
// when the backup ends the log while none is queued: a feeder it opened is queued
// before its name is written (loopback), so one that is not never comes (the replica
// refused it, or was not listening yet), and waiting for it would hang the replica.
int feeder_connection(int listen_fd, uint16_t feeder_port, const char* call) {
    const Parked parked = take_parked(listen_fd, feeder_port);
    if (parked.fd >= 0) return parked.fd;
    const std::string replica_call = std::string(call) + " on fd " + std::to_string(listen_fd);
    for (;;) {
        // POLLRDHUP only on the channel: entries waiting there are no news.
        pollfd p[2] = {{listen_fd, POLLIN, 0}, {log_fd(), POLLRDHUP, 0}};
        if (raw::poll(p, 2, -1) < 0) continue;  // EINTR
        if (!(p[0].revents & POLLIN)) {
            if (!(p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) continue;
            replay_diverged(replica_call + " (the log ended while the feeder of port " + std::to_string(feeder_port) +
                                " had not connected)",
                            replica_call);
            return -1;
        }
        sockaddr_storage peer{};
        socklen_t size = sizeof peer;
        const int fd = raw::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &size, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
            replay_diverged(replica_call + " failing: " + strerror(errno), replica_call);
            return -1;
        }
        const uint16_t port = peer.ss_family == AF_INET
                                  ? ntohs(reinterpret_cast<const sockaddr_in&>(peer).sin_port)
                                  : 0;
        if (port == feeder_port && port != 0) return fd;
        if (!park_connection(listen_fd, fd, port)) {
            raw::close(fd);
            replay_diverged(replica_call + " (more than " + std::to_string(kMaxParked) +
                                " feeders wait ahead of the recorded one)",
                            replica_call);
            return -1;
        }
    }
}

// Replay. Returns the descriptor, or -1 with errno as recorded; nullopt when the
// replica is live (then the caller makes the real call).
std::optional<int> replay_accept(int fd, sockaddr* addr, socklen_t* addr_len, int flags, const char* call) {
    const AppLogEntry* entry = replay_entry(AppLogKind::accept);
    if (entry == nullptr) return std::nullopt;
    const auto e = std::get<AcceptEntry>(*entry);
    const std::string replica_call = std::string(call) + " on fd " + std::to_string(fd);
    const std::string primary_call = "accept on fd " + std::to_string(e.listen_fd);
    if (e.listen_fd != fd) {
        replay_diverged(replica_call, primary_call);
        return std::nullopt;
    }
    if (e.ret < 0) {
        errno = e.err;
        return -1;
    }
    const auto feeder_port = feeder_port_of(e.client_addr, e.client_port);
    if (!feeder_port) {
        replay_diverged(replica_call + " (no feeder named for client " + client_text(e.client_addr, e.client_port) + ")",
                        primary_call + " giving client " + client_text(e.client_addr, e.client_port));
        return std::nullopt;
    }
    // The number the primary got must be free: else the replica opened something the
    // primary did not, and is out of step.
    if (raw::fcntl(e.ret, F_GETFD) >= 0) {
        replay_diverged(replica_call + " with fd " + std::to_string(e.ret) + " already open in the replica",
                        primary_call + " returning fd " + std::to_string(e.ret));
        return std::nullopt;
    }
    int conn = feeder_connection(fd, *feeder_port, call);
    if (conn < 0) return std::nullopt;
    if (conn != e.ret) {
        if (raw::dup3(conn, e.ret, O_CLOEXEC) < 0) {
            const int err = errno;
            raw::close(conn);
            replay_diverged(replica_call + " (can't move the feeder to fd " + std::to_string(e.ret) + ": " +
                                strerror(err) + ")",
                            primary_call + " returning fd " + std::to_string(e.ret));
            return std::nullopt;
        }
        raw::close(conn);
        conn = e.ret;
    }
    forget_feeder(*feeder_port);
    apply_flags(conn, flags);
    protect_socket(conn, true);
    give_address(ipv4_address(e.client_addr, e.client_port), addr, addr_len);
    return conn;
}

// Live (a replica past its log): feeders parked for this listener come first, under
// the lowest free number as a real accept would give.
std::optional<int> live_parked_accept(int fd, sockaddr* addr, socklen_t* addr_len, int flags) {
    if (!has_parked(fd) || !is_main_thread()) return std::nullopt;
    const Parked parked = take_parked(fd, 0, true);
    if (parked.fd < 0) return std::nullopt;
    const int low = raw::fcntl(parked.fd, (flags & SOCK_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
    int conn = parked.fd;
    if (low >= 0) {
        raw::close(parked.fd);
        conn = low;
    }
    apply_flags(conn, flags);
    protect_socket(conn, true);
    if (auto client = client_of_feeder(parked.peer_port)) {
        forget_feeder(parked.peer_port);
        give_address(ipv4_address(client->client_addr, client->client_port), addr, addr_len);
    } else if (addr != nullptr && addr_len != nullptr) {
        raw::getpeername(conn, addr, addr_len);
    }
    return conn;
}

int accept_call(int fd, sockaddr* addr, socklen_t* addr_len, int flags, const char* call) {
    const CallMode mode = call_mode();
    if (mode != CallMode::pass_through && recorded_listener(fd)) {
        if (mode == CallMode::record) return record_accept(fd, addr, addr_len, flags);
        if (auto ret = replay_accept(fd, addr, addr_len, flags, call)) return *ret;
    } else if (mode == CallMode::pass_through && is_recorded_listener(fd)) {
        check_single_caller(call, fd);
    }
    if (parked_count() > 0)
        if (auto ret = live_parked_accept(fd, addr, addr_len, flags)) return *ret;
    return real_accept4(fd, addr, addr_len, flags);
}

}  // namespace

TCPFO_EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* addr_len) {
    return accept_call(fd, addr, addr_len, 0, "accept");
}

TCPFO_EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* addr_len, int flags) {
    return accept_call(fd, addr, addr_len, flags, "accept4");
}
