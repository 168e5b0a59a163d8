// System calls the library makes for itself. Raw syscalls, never the libc names: the
// library interposes poll, close, accept4, fcntl's neighbours and the reads and writes,
// and its own calls must not be taken for the application's (recorded, replayed or
// counted as a second thread's).
#pragma once

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tcpfo::preload::raw {

inline int poll(pollfd* fds, nfds_t n, int timeout_ms) { return int(syscall(SYS_poll, fds, n, timeout_ms)); }
inline int close(int fd) { return int(syscall(SYS_close, fd)); }
inline int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
    return int(syscall(SYS_accept4, fd, addr, len, flags));
}
inline int fcntl(int fd, int cmd, long arg = 0) { return int(syscall(SYS_fcntl, fd, cmd, arg)); }
inline int dup3(int old_fd, int new_fd, int flags) { return int(syscall(SYS_dup3, old_fd, new_fd, flags)); }
inline int getpeername(int fd, sockaddr* addr, socklen_t* len) {
    return int(syscall(SYS_getpeername, fd, addr, len));
}
inline int getsockname(int fd, sockaddr* addr, socklen_t* len) {
    return int(syscall(SYS_getsockname, fd, addr, len));
}
// Bytes waiting in a socket's receive queue, or -1.
inline int readable_bytes(int fd) {
    int n = 0;
    return syscall(SYS_ioctl, fd, FIONREAD, &n) == 0 ? n : -1;
}

}  // namespace tcpfo::preload::raw
