// Reads of the clients' connections besides read() (which interpose_random.cpp owns,
// with the device reads): recv, recvfrom, recvmsg and readv, recorded and replayed as
// byte counts (socket_io.h); and getpeername and getsockname on a client connection,
// whose answers are recorded and replayed (the replica's real peer is the backup's
// feeder on 127.0.0.1, its own address the backup's).
// Not covered yet: recvmmsg, pread/preadv on a socket, ioctl(FIONREAD) and the
// ancillary data of recvmsg (none for TCP but urgent data).
#include <cerrno>
#include <climits>
#include <cstring>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "replay/preload/output_gate.h"
#include "replay/preload/real_functions.h"
#include "replay/preload/socket_io.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

// Replay runs on the main thread only: one scratch iovec array serves every call.
iovec g_clipped[IOV_MAX];

ssize_t real_recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* addr_len) {
    if (auto real = TCPFO_REAL(recvfrom)) return real(fd, buf, len, flags, addr, addr_len);
    return ssize_t(syscall(SYS_recvfrom, fd, buf, len, flags, addr, addr_len));
}

ssize_t real_recvmsg(int fd, msghdr* message, int flags) {
    if (auto real = TCPFO_REAL(recvmsg)) return real(fd, message, flags);
    return ssize_t(syscall(SYS_recvmsg, fd, message, flags));
}

ssize_t real_readv(int fd, const iovec* iov, int iovcnt) {
    if (auto real = TCPFO_REAL(readv)) return real(fd, iov, iovcnt);
    return ssize_t(syscall(SYS_readv, fd, iov, iovcnt));
}

// The address calls: recorded and replayed on a client connection only.
int socket_name(NameCall call, int fd, sockaddr* addr, socklen_t* addr_len) {
    const char* name = call == NameCall::getpeername ? "getpeername" : "getsockname";
    auto real = [&](sockaddr* a, socklen_t* l) {
        if (call == NameCall::getpeername) {
            if (auto f = TCPFO_REAL(getpeername)) return f(fd, a, l);
            return int(syscall(SYS_getpeername, fd, a, l));
        }
        if (auto f = TCPFO_REAL(getsockname)) return f(fd, a, l);
        return int(syscall(SYS_getsockname, fd, a, l));
    };
    // Only what a caller could be given: its length, the kernel's reported length.
    auto give = [&](const uint8_t* bytes, socklen_t size) {
        if (addr != nullptr && addr_len != nullptr) std::memcpy(addr, bytes, std::min<size_t>(*addr_len, size));
        if (addr_len != nullptr) *addr_len = size;
    };
    switch (socket_mode(fd, name)) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            if (addr == nullptr || addr_len == nullptr) break;  // EFAULT: nothing to record
            sockaddr_storage full{};
            socklen_t size = sizeof full;
            const int ret = real(reinterpret_cast<sockaddr*>(&full), &size);
            const int err = ret < 0 ? errno : 0;
            if (ret == 0) size = std::min<socklen_t>(size, kMaxSocketAddressSize);
            const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(&full), ret == 0 ? size : 0);
            record_entry(SocketNameEntry{fd, call, ret, err, bytes});
            if (ret == 0) give(bytes.data(), size);
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            if (addr == nullptr || addr_len == nullptr) break;
            const AppLogEntry* entry = replay_entry(AppLogKind::socket_name);
            if (entry == nullptr) break;
            const auto& e = std::get<SocketNameEntry>(*entry);
            if (e.fd != fd || e.call != call) {
                replay_diverged(std::string(name) + " on fd " + std::to_string(fd),
                                std::string(e.call == NameCall::getpeername ? "getpeername" : "getsockname") +
                                    " on fd " + std::to_string(e.fd));
                break;
            }
            if (e.ret != 0) {
                errno = e.err;
                return -1;
            }
            give(e.address.data(), socklen_t(e.address.size()));
            return 0;
        }
    }
    return real(addr, addr_len);
}

}  // namespace

TCPFO_EXPORT ssize_t recv(int fd, void* buf, size_t len, int flags) {
    return socket_read(fd, SocketCall::recv, "recv", len, (flags & MSG_PEEK) != 0, [&](size_t skip, size_t n) {
        return real_recvfrom(fd, static_cast<char*>(buf) + skip, n, flags, nullptr, nullptr);
    });
}

TCPFO_EXPORT ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* addr_len) {
    return socket_read(fd, SocketCall::recvfrom, "recvfrom", len, (flags & MSG_PEEK) != 0,
                       [&](size_t skip, size_t n) {
                           return real_recvfrom(fd, static_cast<char*>(buf) + skip, n, flags, addr, addr_len);
                       });
}

TCPFO_EXPORT ssize_t recvmsg(int fd, msghdr* message, int flags) {
    if (message == nullptr) return real_recvmsg(fd, message, flags);
    const size_t len = iov_bytes(message->msg_iov, int(message->msg_iovlen));
    return socket_read(fd, SocketCall::recvmsg, "recvmsg", len, (flags & MSG_PEEK) != 0,
                       [&](size_t skip, size_t n) {
                           if (skip == 0 && n == len) return real_recvmsg(fd, message, flags);
                           // A part of the caller's buffers: the same message, fewer bytes.
                           msghdr part = *message;
                           part.msg_iov = g_clipped;
                           part.msg_iovlen = size_t(clip_iov(message->msg_iov, int(message->msg_iovlen), skip, n,
                                                             g_clipped));
                           const ssize_t ret = real_recvmsg(fd, &part, flags);
                           message->msg_namelen = part.msg_namelen;
                           message->msg_controllen = part.msg_controllen;
                           message->msg_flags = part.msg_flags;
                           return ret;
                       });
}

TCPFO_EXPORT ssize_t readv(int fd, const iovec* iov, int iovcnt) {
    const size_t len = iovcnt > 0 && iov != nullptr ? iov_bytes(iov, iovcnt) : 0;
    return socket_read(fd, SocketCall::readv, "readv", len, false, [&](size_t skip, size_t n) {
        if (skip == 0 && n == len) return real_readv(fd, iov, iovcnt);
        return real_readv(fd, g_clipped, clip_iov(iov, iovcnt, skip, n, g_clipped));
    });
}

TCPFO_EXPORT int getpeername(int fd, sockaddr* addr, socklen_t* addr_len) noexcept {
    return socket_name(NameCall::getpeername, fd, addr, addr_len);
}

TCPFO_EXPORT int getsockname(int fd, sockaddr* addr, socklen_t* addr_len) noexcept {
    return socket_name(NameCall::getsockname, fd, addr, addr_len);
}
