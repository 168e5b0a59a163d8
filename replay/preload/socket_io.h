// What reads and writes on the clients' connections (protected sockets, output_gate.h)
// return: recorded on the primary as byte counts (kinds 10 and 11; the bytes are in the
// replication stream already), replayed in the replica so that it consumes its feeder's
// bytes in the primary's portions and writes exactly what the primary wrote.
//
// Replay of a read that returned N > 0 reads from the feeder until N bytes have come
// (whatever the socket's O_NONBLOCK or the call's MSG_DONTWAIT say: the primary had
// them) and returns exactly N; 0 waits for the feeder's end of file; -1 returns the
// errno without reading. A write that took N bytes writes exactly N (waiting for room);
// -1 returns the errno without writing.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "replay/preload/app_log.h"
#include "replay/preload/app_log_stream.h"
#include "replay/preload/preload_state.h"

namespace tcpfo::preload {

// How a read or write on `fd` is handled now: pass-through unless `fd` is a client
// connection and the caller is the recording or replaying main thread; another
// thread's or a child's use is refused on the way (single_caller.h).
CallMode socket_mode(int fd, const char* call);

// Replay: the entry for this call, or nullptr when the replica is live (the log ended,
// or this call is not the recorded one: then it diverged, with one line). `asked` is the
// replica's buffer size: a recorded count above it is a divergence.
const SocketIoEntry* replay_socket_io(AppLogKind kind, int fd, SocketCall call, const char* call_name,
                                      size_t asked);

// Replay: blocks until `fd` has at least `n` bytes queued (n > 0), or its end of file
// (n == 0) with nothing queued. False when the feeder cannot give that (it ended
// early, or holds bytes past the recorded end of file, or broke): the replica diverged
// (one line) and is live.
bool wait_for_input(int fd, int64_t n);
// Replay: blocks until `fd` can take more bytes; false when the feeder connection
// failed (the backup let it go).
bool wait_for_room(int fd);

void diverged_on_socket(const char* call, int fd, const char* what);

// Replay: while it lives, SIGPIPE is blocked for this thread, and one that a failed
// write raised (a write on a feeder the backup closed: note_failed_write) is discarded:
// the primary's write succeeded, and the replica must not die of a signal the primary
// never got. Two syscalls for a write that succeeds: this is every replayed write.
// If the service blocks SIGPIPE itself, nothing is discarded (it may have one pending).
class SigpipeSuppressed {
public:
    SigpipeSuppressed();
    ~SigpipeSuppressed();
    SigpipeSuppressed(const SigpipeSuppressed&) = delete;
    SigpipeSuppressed& operator=(const SigpipeSuppressed&) = delete;
    void note_failed_write() { failed_ = true; }

private:
    sigset_t old_mask_;
    bool failed_ = false;
};

// Copies into `out` (up to IOV_MAX entries) the part of `iov` from byte `skip` on, at
// most `n` bytes; returns the entry count. For replaying readv, recvmsg, writev and
// sendmsg a byte range at a time.
int clip_iov(const iovec* iov, int iovcnt, size_t skip, size_t n, iovec* out);
size_t iov_bytes(const iovec* iov, int iovcnt);

// A read of up to `len` bytes. `real(skip, n)` makes the real call for at most `n`
// bytes into the caller's buffer from byte `skip` on, returning the count or -1 with
// errno. `peek` (MSG_PEEK): the bytes stay queued, so one real call of exactly the
// recorded count.
template <class Real>
ssize_t socket_read(int fd, SocketCall call, const char* name, size_t len, bool peek, Real real) {
    switch (socket_mode(fd, name)) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            const ssize_t ret = real(0, len);
            const int err = ret < 0 ? errno : 0;
            record_entry(SocketReadEntry{{fd, uint16_t(call), int64_t(ret), err}});
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            const SocketIoEntry* e = replay_socket_io(AppLogKind::socket_read, fd, call, name, len);
            if (e == nullptr) break;
            if (e->ret < 0) {
                errno = e->err;
                return -1;
            }
            const int saved_errno = errno;
            const int64_t want = e->ret;
            if (want == 0) {
                if (!wait_for_input(fd, 0)) break;
                return 0;
            }
            int64_t got = 0;
            while (got < want) {
                // Whatever has come, not all of it at once: the feeder's socket may
                // never hold the whole count (small segments fill its receive buffer
                // with overhead long before 50 KiB of payload: a replica waited for
                // ever). A peek consumes nothing, so it needs the whole count queued.
                if (!wait_for_input(fd, peek ? want - got : 1)) return got > 0 ? ssize_t(got) : real(0, len);
                const ssize_t n = real(size_t(got), size_t(want - got));
                if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
                if (n <= 0) {
                    diverged_on_socket(name, fd, "the feeder connection failed while the replica read");
                    return got > 0 ? ssize_t(got) : n;
                }
                if (peek) return n;
                got += n;
            }
            errno = saved_errno;
            return ssize_t(got);
        }
    }
    return real(0, len);
}

// A write of `len` bytes; `real(skip, n)` writes at most `n` of them from byte `skip`.
template <class Real>
ssize_t socket_write(int fd, SocketCall call, const char* name, size_t len, Real real) {
    switch (socket_mode(fd, name)) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            const ssize_t ret = real(0, len);
            const int err = ret < 0 ? errno : 0;
            // A write that took everything tells the application nothing its replica,
            // live where the log ends, would not learn too: no need to hold output on it.
            record_entry(SocketWriteEntry{{fd, uint16_t(call), int64_t(ret), err}}, ret < 0 || size_t(ret) != len);
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            const SocketIoEntry* e = replay_socket_io(AppLogKind::socket_write, fd, call, name, len);
            if (e == nullptr) break;
            if (e->ret < 0) {
                errno = e->err;
                return -1;
            }
            const int saved_errno = errno;
            SigpipeSuppressed quiet;
            int64_t done = 0;
            while (done < e->ret) {
                const ssize_t n = real(size_t(done), size_t(e->ret - done));
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for_room(fd)) continue;
                // The backup closed this client's feeder: the connection ended (its
                // client had the primary's bytes) or was handed back to the primary.
                // Nobody reads what the replica writes on it any more, and the primary's
                // write returned e->ret: so does this one, and the replay goes on (going
                // live here made the replica of a redis-benchmark run, whose clients close
                // while the replica still replays their replies, leave every connection).
                if (n <= 0) {
                    quiet.note_failed_write();
                    break;
                }
                done += n;
            }
            errno = saved_errno;
            return ssize_t(e->ret);
        }
    }
    return real(0, len);
}

}  // namespace tcpfo::preload
