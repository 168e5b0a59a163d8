// getrandom() and reads of /dev/urandom and /dev/random, through descriptors
// (open, openat, read, close) and through stdio (fopen, fread, fclose: fread() reads
// the device inside libc, never through the interposed read()). Not covered yet:
// getentropy() and arc4random() (libc calls the getrandom syscall directly), readv,
// pread, fgetc/fgets on a device stream, freopen, and handles made by dup or fdopen.
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/device_handles.h"
#include "replay/preload/output_gate.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/real_functions.h"
#include "replay/preload/socket_io.h"
#include "replay/preload/wait_registry.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

// One call's bytes must fit one entry; a larger request gets a short count, which
// getrandom() and read() may return anyway.
constexpr size_t kMaxBytesPerCall = kMaxAppLogPayload - 8 - 4;

ssize_t real_getrandom(void* buf, size_t len, unsigned int flags) {
    if (auto real = TCPFO_REAL(getrandom)) return real(buf, len, flags);
    return ssize_t(syscall(SYS_getrandom, buf, len, flags));
}

ssize_t real_read(int fd, void* buf, size_t len) {
    if (auto real = TCPFO_REAL(read)) return real(fd, buf, len);
    return ssize_t(syscall(SYS_read, fd, buf, len));
}

std::span<const uint8_t> returned_bytes(const void* buf, int64_t ret) {
    return {static_cast<const uint8_t*>(buf), ret > 0 ? size_t(ret) : 0};
}

// The replica asked for fewer bytes than the primary received: another path. False
// then (the replica went live: make the real call).
bool fits(const char* call, int64_t recorded, size_t asked) {
    if (recorded <= 0 || uint64_t(recorded) <= asked) return true;
    replay_diverged(std::string(call) + " of " + std::to_string(asked) + " bytes",
                    std::string(call) + " returning " + std::to_string(recorded) + " bytes");
    return false;
}

// A device read: recorded or replayed, or nullopt to read the device for real.
// `read_real` performs the real read of up to `len` bytes and returns the byte count
// or -1 with errno set.
template <class ReadReal>
std::optional<int64_t> device_read(void* buf, size_t len, ReadReal read_real) {
    switch (call_mode()) {
        case CallMode::pass_through: return std::nullopt;
        case CallMode::record: {
            len = std::min(len, kMaxBytesPerCall);
            const int64_t ret = read_real(len);
            const int err = ret < 0 ? errno : 0;
            record_entry(DeviceReadEntry{ret, err, returned_bytes(buf, ret)});
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            const AppLogEntry* entry = replay_entry(AppLogKind::device_read);
            if (entry == nullptr) return std::nullopt;
            const auto& e = std::get<DeviceReadEntry>(*entry);
            if (!fits("a read of /dev/urandom", e.ret, len)) return std::nullopt;
            if (e.ret < 0) {
                errno = e.err;
                return -1;
            }
            std::copy(e.bytes.begin(), e.bytes.end(), static_cast<uint8_t*>(buf));
            return e.ret;
        }
    }
    return std::nullopt;
}

// Every successful open says whether the descriptor is now a random device, which
// also clears a number a missed close (close_range, dup2) left marked.
int note_open(int fd, const char* path) {
    if (fd >= 0 && tracks_devices()) track_device_fd(fd, is_random_device_path(path));
    return fd;
}

mode_t mode_argument(int flags, va_list args) {
    return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(args, mode_t) : 0;
}

}  // namespace

TCPFO_EXPORT ssize_t getrandom(void* buf, size_t len, unsigned int flags) {
    switch (call_mode()) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            len = std::min(len, kMaxBytesPerCall);
            const ssize_t ret = real_getrandom(buf, len, flags);
            const int err = ret < 0 ? errno : 0;
            record_entry(GetrandomEntry{ret, err, returned_bytes(buf, ret)});
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            const AppLogEntry* entry = replay_entry(AppLogKind::getrandom);
            if (entry == nullptr) break;
            const auto& e = std::get<GetrandomEntry>(*entry);
            if (!fits("getrandom", e.ret, len)) break;
            if (e.ret < 0) {
                errno = e.err;
                return -1;
            }
            std::copy(e.bytes.begin(), e.bytes.end(), static_cast<uint8_t*>(buf));
            return ssize_t(e.ret);
        }
    }
    return real_getrandom(buf, len, flags);
}

TCPFO_EXPORT int open(const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const mode_t mode = mode_argument(flags, args);
    va_end(args);
    auto real = TCPFO_REAL(open);
    return note_open(real ? real(path, flags, mode) : int(syscall(SYS_openat, AT_FDCWD, path, flags, mode)),
                     path);
}

TCPFO_EXPORT int open64(const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const mode_t mode = mode_argument(flags, args);
    va_end(args);
    auto real = TCPFO_REAL(open64);
    return note_open(real ? real(path, flags, mode)
                          : int(syscall(SYS_openat, AT_FDCWD, path, flags | O_LARGEFILE, mode)),
                     path);
}

// An absolute path ignores dirfd, so the path alone says whether this is the device.
TCPFO_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const mode_t mode = mode_argument(flags, args);
    va_end(args);
    auto real = TCPFO_REAL(openat);
    return note_open(real ? real(dirfd, path, flags, mode) : int(syscall(SYS_openat, dirfd, path, flags, mode)),
                     path);
}

TCPFO_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
    va_list args;
    va_start(args, flags);
    const mode_t mode = mode_argument(flags, args);
    va_end(args);
    auto real = TCPFO_REAL(openat64);
    return note_open(real ? real(dirfd, path, flags, mode)
                          : int(syscall(SYS_openat, dirfd, path, flags | O_LARGEFILE, mode)),
                     path);
}

// The one read() of the library: a random device's bytes are recorded here, a client
// connection's byte count in socket_io.h.
TCPFO_EXPORT ssize_t read(int fd, void* buf, size_t len) {
    // Bit tests first: read() is the hot path of every server.
    if (is_device_fd(fd)) {
        auto ret = device_read(buf, len, [&](size_t n) { return int64_t(real_read(fd, buf, n)); });
        if (ret) return ssize_t(*ret);
    }
    if (is_protected_socket(fd))
        return socket_read(fd, SocketCall::read, "read", len, false, [&](size_t skip, size_t n) {
            return real_read(fd, static_cast<char*>(buf) + skip, n);
        });
    return real_read(fd, buf, len);
}

// Forgets every kind of handle the library tracks: a device, a protected connection,
// a recorded listening socket, an epoll instance or a registration in one.
TCPFO_EXPORT int close(int fd) {
    track_device_fd(fd, false);
    protect_socket(fd, false);
    forget_wait_fd(fd);
    if (auto real = TCPFO_REAL(close)) return real(fd);
    return int(syscall(SYS_close, fd));
}

TCPFO_EXPORT FILE* fopen(const char* path, const char* mode) {
    auto real = TCPFO_REAL(fopen);
    if (real == nullptr) {
        errno = ENOSYS;
        return nullptr;
    }
    FILE* stream = real(path, mode);
    if (stream != nullptr && tracks_devices() && is_random_device_path(path)) track_device_stream(stream);
    return stream;
}

TCPFO_EXPORT FILE* fopen64(const char* path, const char* mode) {
    auto real = TCPFO_REAL(fopen64);
    if (real == nullptr) {
        errno = ENOSYS;
        return nullptr;
    }
    FILE* stream = real(path, mode);
    if (stream != nullptr && tracks_devices() && is_random_device_path(path)) track_device_stream(stream);
    return stream;
}

// The entry counts bytes; fread() returns whole items, so a replayed fread returns
// the recorded bytes divided by the item size (what the primary's call returned). The
// stream's error and end-of-file flags are not replayed.
TCPFO_EXPORT size_t fread(void* buf, size_t size, size_t count, FILE* stream) {
    auto real = TCPFO_REAL(fread);
    if (real == nullptr) {
        errno = ENOSYS;
        return 0;
    }
    if (size != 0 && count != 0 && size <= kMaxBytesPerCall && is_device_stream(stream)) {
        count = std::min(count, kMaxBytesPerCall / size);
        auto ret = device_read(buf, size * count, [&](size_t n) {
            return int64_t(real(buf, size, n / size, stream) * size);
        });
        if (ret) {
            if (*ret >= 0 && *ret % int64_t(size) == 0) return size_t(*ret) / size;
            replay_diverged("fread of " + std::to_string(size) + "-byte items from /dev/urandom",
                            "a read of /dev/urandom returning " + std::to_string(*ret));
        }
    }
    return real(buf, size, count, stream);
}

TCPFO_EXPORT int fclose(FILE* stream) {
    untrack_device_stream(stream);
    auto real = TCPFO_REAL(fclose);
    if (real == nullptr) {
        errno = ENOSYS;
        return EOF;
    }
    return real(stream);
}
