#include "replay/preload/socket_io.h"

#include <climits>
#include <cstdio>
#include <cstring>
#include <poll.h>

#include <algorithm>
#include <string>

#include "replay/preload/output_gate.h"
#include "replay/preload/raw_calls.h"
#include "replay/preload/single_caller.h"

namespace tcpfo::preload {
namespace {

std::string describe(const char* call, int fd) { return std::string(call) + " on fd " + std::to_string(fd); }

const char* read_call_name(uint16_t call) {
    static const char* const names[] = {"?", "read", "recv", "recvfrom", "recvmsg", "readv"};
    return call <= kMaxSocketCall ? names[call] : "?";
}

const char* write_call_name(uint16_t call) {
    static const char* const names[] = {"?", "write", "send", "sendto", "sendmsg", "writev"};
    return call <= kMaxSocketCall ? names[call] : "?";
}

}  // namespace

CallMode socket_mode(int fd, const char* call) {
    // A bit test first: reads and writes are the hot path of every server.
    if (!is_protected_socket(fd)) return CallMode::pass_through;
    const CallMode mode = call_mode();
    if (mode == CallMode::pass_through) check_single_caller(call, fd);
    return mode;
}

const SocketIoEntry* replay_socket_io(AppLogKind kind, int fd, SocketCall call, const char* call_name,
                                      size_t asked) {
    const AppLogEntry* entry = replay_entry(kind);
    if (entry == nullptr) return nullptr;
    const SocketIoEntry& e = kind == AppLogKind::socket_read
                                 ? static_cast<const SocketIoEntry&>(std::get<SocketReadEntry>(*entry))
                                 : static_cast<const SocketIoEntry&>(std::get<SocketWriteEntry>(*entry));
    const char* primary = kind == AppLogKind::socket_read ? read_call_name(e.call) : write_call_name(e.call);
    if (e.fd != fd || e.call != uint16_t(call)) {
        replay_diverged(describe(call_name, fd), describe(primary, e.fd));
        return nullptr;
    }
    if (e.ret > 0 && uint64_t(e.ret) > asked) {
        replay_diverged(describe(call_name, fd) + " of " + std::to_string(asked) + " bytes",
                        describe(primary, e.fd) + " returning " + std::to_string(e.ret));
        return nullptr;
    }
    return &e;
}

void diverged_on_socket(const char* call, int fd, const char* what) {
    replay_diverged(describe(call, fd) + " (" + what + ")", describe(call, fd) + " as recorded");
}

bool wait_for_input(int fd, int64_t n) {
    for (;;) {
        const int queued = raw::readable_bytes(fd);
        if (queued < 0) {
            diverged_on_socket("a read", fd, strerror(errno));
            return false;
        }
        if (n > 0 && queued >= n) return true;
        if (n == 0 && queued > 0) {
            diverged_on_socket("a read", fd, "the feeder holds bytes where the primary read its end of file");
            return false;
        }
        pollfd p{fd, POLLIN | POLLRDHUP, 0};
        if (raw::poll(&p, 1, -1) < 0) {
            if (errno == EINTR) continue;
            diverged_on_socket("a read", fd, strerror(errno));
            return false;
        }
        if ((p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) == 0) continue;
        // The feeder ended (or failed): whatever it had is queued now.
        const int last = raw::readable_bytes(fd);
        if (n > 0 && last >= n) return true;
        if (n == 0 && last == 0) return true;
        diverged_on_socket("a read", fd,
                           n > 0 ? "the feeder ended before the bytes the primary read"
                                 : "the feeder holds bytes where the primary read its end of file");
        return false;
    }
}

namespace {

sigset_t sigpipe_only() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    return pipe;
}

}  // namespace

SigpipeSuppressed::SigpipeSuppressed() {
    const sigset_t pipe = sigpipe_only();
    pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
}

SigpipeSuppressed::~SigpipeSuppressed() {
    // Unblocked before, so none was pending then: whatever is pending now came from
    // the failed write.
    if (failed_ && sigismember(&old_mask_, SIGPIPE) == 0) {
        const sigset_t pipe = sigpipe_only();
        const timespec now{};
        (void)sigtimedwait(&pipe, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

bool wait_for_room(int fd) {
    for (;;) {
        pollfd p{fd, POLLOUT, 0};
        if (raw::poll(&p, 1, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p.revents & POLLOUT) return true;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) break;
    }
    return false;
}

size_t iov_bytes(const iovec* iov, int iovcnt) {
    size_t total = 0;
    for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
    return total;
}

int clip_iov(const iovec* iov, int iovcnt, size_t skip, size_t n, iovec* out) {
    int count = 0;
    for (int i = 0; i < iovcnt && n > 0 && count < IOV_MAX; ++i) {
        size_t len = iov[i].iov_len;
        char* base = static_cast<char*>(iov[i].iov_base);
        if (skip >= len) {
            skip -= len;
            continue;
        }
        base += skip;
        len -= skip;
        skip = 0;
        len = std::min(len, n);
        out[count++] = {base, len};
        n -= len;
    }
    return count;
}

}  // namespace tcpfo::preload
