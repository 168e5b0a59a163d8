// What the application writes to the clients' connections: write(), send(), sendto(),
// sendmsg() and writev() on a protected connection (output_gate.h) wait at the output
// gate, and their results are recorded and replayed (socket_io.h); dup(), dup2() and
// dup3() carry the mark to the new number (and take it off a number they replace);
// close() takes it off (interpose_random.cpp, with the device handles). accept() and
// accept4(), which make protected connections, are in interpose_accept.cpp.
// Not covered yet: pwrite, sendmmsg, sendfile, splice, io_uring, a descriptor made by
// fcntl(F_DUPFD) or received over a unix socket, and close_range().
#include <cerrno>
#include <climits>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "replay/preload/output_gate.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/real_functions.h"
#include "replay/preload/socket_io.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

// Replay runs on the main thread only: one scratch iovec array serves every call.
iovec g_clipped[IOV_MAX];

// The new number is whatever the old one was: protected or not.
int note_duplicate(int old_fd, int new_fd) {
    if (new_fd >= 0) protect_socket(new_fd, is_protected_socket(old_fd));
    return new_fd;
}

ssize_t real_write(int fd, const void* buf, size_t len) {
    if (auto real = TCPFO_REAL(write)) return real(fd, buf, len);
    return ssize_t(syscall(SYS_write, fd, buf, len));
}

ssize_t real_sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t addr_len) {
    if (auto real = TCPFO_REAL(sendto)) return real(fd, buf, len, flags, addr, addr_len);
    return ssize_t(syscall(SYS_sendto, fd, buf, len, flags, addr, addr_len));
}

ssize_t real_sendmsg(int fd, const msghdr* message, int flags) {
    if (auto real = TCPFO_REAL(sendmsg)) return real(fd, message, flags);
    return ssize_t(syscall(SYS_sendmsg, fd, message, flags));
}

ssize_t real_writev(int fd, const iovec* iov, int iovcnt) {
    if (auto real = TCPFO_REAL(writev)) return real(fd, iov, iovcnt);
    return ssize_t(syscall(SYS_writev, fd, iov, iovcnt));
}

}  // namespace

TCPFO_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
    gate_output(fd);
    return socket_write(fd, SocketCall::write, "write", len, [&](size_t skip, size_t n) {
        return real_write(fd, static_cast<const char*>(buf) + skip, n);
    });
}

TCPFO_EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
    gate_output(fd);
    return socket_write(fd, SocketCall::send, "send", len, [&](size_t skip, size_t n) {
        return real_sendto(fd, static_cast<const char*>(buf) + skip, n, flags, nullptr, 0);
    });
}

TCPFO_EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr,
                            socklen_t addr_len) {
    gate_output(fd);
    return socket_write(fd, SocketCall::sendto, "sendto", len, [&](size_t skip, size_t n) {
        return real_sendto(fd, static_cast<const char*>(buf) + skip, n, flags, addr, addr_len);
    });
}

TCPFO_EXPORT ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
    gate_output(fd);
    if (message == nullptr) return real_sendmsg(fd, message, flags);
    const size_t len = iov_bytes(message->msg_iov, int(message->msg_iovlen));
    return socket_write(fd, SocketCall::sendmsg, "sendmsg", len, [&](size_t skip, size_t n) {
        if (skip == 0 && n == len) return real_sendmsg(fd, message, flags);
        msghdr part = *message;
        part.msg_iov = g_clipped;
        part.msg_iovlen = size_t(clip_iov(message->msg_iov, int(message->msg_iovlen), skip, n, g_clipped));
        return real_sendmsg(fd, &part, flags);
    });
}

TCPFO_EXPORT ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
    gate_output(fd);
    const size_t len = iovcnt > 0 && iov != nullptr ? iov_bytes(iov, iovcnt) : 0;
    return socket_write(fd, SocketCall::writev, "writev", len, [&](size_t skip, size_t n) {
        if (skip == 0 && n == len) return real_writev(fd, iov, iovcnt);
        return real_writev(fd, g_clipped, clip_iov(iov, iovcnt, skip, n, g_clipped));
    });
}

TCPFO_EXPORT int dup(int fd) noexcept {
    auto real = TCPFO_REAL(dup);
    return note_duplicate(fd, real ? real(fd) : int(syscall(SYS_dup, fd)));
}

TCPFO_EXPORT int dup2(int old_fd, int new_fd) noexcept {
    auto real = TCPFO_REAL(dup2);
    return note_duplicate(old_fd, real ? real(old_fd, new_fd) : int(syscall(SYS_dup2, old_fd, new_fd)));
}

TCPFO_EXPORT int dup3(int old_fd, int new_fd, int flags) noexcept {
    auto real = TCPFO_REAL(dup3);
    return note_duplicate(old_fd, real ? real(old_fd, new_fd, flags)
                                       : int(syscall(SYS_dup3, old_fd, new_fd, flags)));
}
