// The clients' connections and what the application writes to them: accept() and
// accept4() on the main thread mark a protected connection (output_gate.h); write(),
// send(), sendto(), sendmsg() and writev() on one wait at the output gate; dup(),
// dup2() and dup3() carry the mark to the new number (and take it off a number they
// replace); close() takes it off (interpose_random.cpp, with the device handles).
// Not covered yet: pwrite, sendmmsg, sendfile, splice, io_uring, a descriptor made by
// fcntl(F_DUPFD) or received over a unix socket, and close_range().
#include <cerrno>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "replay/preload/output_gate.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/real_functions.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

int note_accepted(int fd) {
    if (fd >= 0 && call_mode() == CallMode::record) protect_socket(fd, true);
    return fd;
}

// The new number is whatever the old one was: protected or not.
int note_duplicate(int old_fd, int new_fd) {
    if (new_fd >= 0) protect_socket(new_fd, is_protected_socket(old_fd));
    return new_fd;
}

}  // namespace

TCPFO_EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* addr_len) {
    auto real = TCPFO_REAL(accept);
    return note_accepted(real ? real(fd, addr, addr_len) : int(syscall(SYS_accept, fd, addr, addr_len)));
}

TCPFO_EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* addr_len, int flags) {
    auto real = TCPFO_REAL(accept4);
    return note_accepted(real ? real(fd, addr, addr_len, flags)
                              : int(syscall(SYS_accept4, fd, addr, addr_len, flags)));
}

TCPFO_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
    gate_output(fd);
    if (auto real = TCPFO_REAL(write)) return real(fd, buf, len);
    return ssize_t(syscall(SYS_write, fd, buf, len));
}

TCPFO_EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
    gate_output(fd);
    if (auto real = TCPFO_REAL(send)) return real(fd, buf, len, flags);
    return ssize_t(syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0));
}

TCPFO_EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* addr,
                            socklen_t addr_len) {
    gate_output(fd);
    if (auto real = TCPFO_REAL(sendto)) return real(fd, buf, len, flags, addr, addr_len);
    return ssize_t(syscall(SYS_sendto, fd, buf, len, flags, addr, addr_len));
}

TCPFO_EXPORT ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
    gate_output(fd);
    if (auto real = TCPFO_REAL(sendmsg)) return real(fd, message, flags);
    return ssize_t(syscall(SYS_sendmsg, fd, message, flags));
}

TCPFO_EXPORT ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
    gate_output(fd);
    if (auto real = TCPFO_REAL(writev)) return real(fd, iov, iovcnt);
    return ssize_t(syscall(SYS_writev, fd, iov, iovcnt));
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
