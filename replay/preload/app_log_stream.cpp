#include "replay/preload/app_log_stream.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "replay/preload/feeder_names.h"
#include "replay/preload/preload_state.h"

namespace tcpfo::preload {
namespace {

// Exit status of a replica that cannot follow the log.
constexpr int kReplayFailedExit = 86;
constexpr size_t kRecordBufferSize = 64 * 1024;

// Static buffers: the library must not allocate on the calls it interposes (an
// allocator may read the clock). One entry of the largest size fits the scratch
// buffer, used by replay for every entry and by record for entries larger than the
// record buffer; a process is in one mode only.
uint8_t g_record_buffer[kRecordBufferSize];
size_t g_record_used = 0;
bool g_write_through = false;
uint8_t g_entry_scratch[kAppLogHeaderSize + kMaxAppLogPayload];

// Record: the log's bytes so far, encoded (buffered or written) and written to the
// descriptor. The output gate waits until the daemon holds g_recorded_bytes; the daemon
// can hold no more than g_written_bytes.
uint64_t g_recorded_bytes = 0;
uint64_t g_written_bytes = 0;
uint64_t g_must_hold_bytes = 0;

uint64_t g_replay_index = 0;  // entries consumed, so the next one is g_replay_index + 1
AppLogEntry g_replay_entry;

// The raw syscall: write() is interposed (the output gate), and the log's own writes
// must never be taken for the application's.
bool write_all(const uint8_t* data, size_t size) {
    while (size > 0) {
        const ssize_t n = ssize_t(syscall(SYS_write, log_fd(), data, size));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= size_t(n);
        g_written_bytes += uint64_t(n);
    }
    return true;
}

// A log on a pipe or socket whose reader is gone must not kill the application with
// SIGPIPE: the signal is blocked around the write, and the one the write raised is
// taken back (unless one was already pending, which stays the application's).
bool write_all_without_sigpipe(const uint8_t* data, size_t size) {
    sigset_t pipe_only, previous, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    const bool written = write_all(data, size);
    if (!written && errno == EPIPE && !was_pending) {
        const int saved_errno = errno;
        const timespec no_wait{0, 0};
        while (sigtimedwait(&pipe_only, nullptr, &no_wait) < 0 && errno == EINTR) {
        }
        errno = saved_errno;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return written;
}

// After a failed write the log has a hole: nothing more is written (and the failure
// is reported once).
bool g_write_failed = false;

void write_or_stop(const uint8_t* data, size_t size) {
    if (g_write_failed) return;
    const int saved_errno = errno;
    if (!write_all_without_sigpipe(data, size)) {
        g_write_failed = true;
        warn("tcpfo-preload: can't write the application log to fd %d, recording stops: %s",
             log_fd(), strerror(errno));
        stop();
    }
    errno = saved_errno;
}

// Waits until the log descriptor is readable. The raw syscall: poll() is interposed
// (a recorded wait).
bool wait_readable() {
    pollfd readable{log_fd(), POLLIN, 0};
    return syscall(SYS_poll, &readable, 1, -1) >= 0 || errno == EINTR;
}

// Replay from a socket (failoverd's channel): entries are peeked in bulk and taken off
// the socket only once the peeked bytes are used up, and before an exec, so that what
// the descriptor holds at an exec is still exactly the rest of the log. Reading an
// entry at a time cost two system calls per entry, and a replica replaying ten busy
// connections spent most of its time there and fell seconds behind its primary.
constexpr size_t kPeekSize = 256 * 1024;
uint8_t g_peeked[kPeekSize];
size_t g_peeked_len = 0;   // bytes of the socket's queue copied into g_peeked
size_t g_peeked_used = 0;  // of those, the ones replay has used
int g_log_is_socket = -1;  // unknown until the first read

bool log_is_socket() {
    if (g_log_is_socket < 0) {
        struct stat st{};
        g_log_is_socket = fstat(log_fd(), &st) == 0 && S_ISSOCK(st.st_mode) ? 1 : 0;
    }
    return g_log_is_socket == 1;
}

// Takes the used bytes off the socket: they are the queue's first bytes, so they are
// received over the front of g_peeked, which holds the same bytes.
bool take_used_bytes() {
    size_t left = g_peeked_used;
    while (left > 0) {
        const long n = syscall(SYS_recvfrom, log_fd(), g_peeked, left, MSG_DONTWAIT, nullptr, nullptr);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;  // they were queued: nothing else can take them
        left -= size_t(n);
    }
    g_peeked_len = g_peeked_used = 0;
    return true;
}

ssize_t read_up_to_from_socket(uint8_t* data, size_t size) {
    size_t got = 0;
    while (got < size) {
        if (g_peeked_used < g_peeked_len) {
            const size_t n = std::min(size - got, g_peeked_len - g_peeked_used);
            std::memcpy(data + got, g_peeked + g_peeked_used, n);
            g_peeked_used += n;
            got += n;
            continue;
        }
        if (!take_used_bytes()) return -1;
        const long n = syscall(SYS_recvfrom, log_fd(), g_peeked, kPeekSize, MSG_PEEK | MSG_DONTWAIT, nullptr, nullptr);
        if (n > 0) {
            g_peeked_len = size_t(n);
            continue;
        }
        if (n == 0) break;  // the end of the log
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        if (!wait_readable()) return -1;
    }
    return ssize_t(got);
}

// Reads up to `size` bytes, fewer only at the end of the log. The raw syscall: read()
// is interposed, and the log descriptor must never be taken for a device. An entry the
// primary has not produced yet is waited for: that is the replica keeping in step with
// its primary (a non-blocking descriptor is polled instead of failing with EAGAIN).
ssize_t read_up_to(uint8_t* data, size_t size) {
    if (log_is_socket()) return read_up_to_from_socket(data, size);
    // A file or a pipe (tests): read exactly what is needed, never ahead.
    size_t got = 0;
    while (got < size) {
        const long n = syscall(SYS_read, log_fd(), data + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_readable()) return -1;
            continue;
        }
        if (n < 0) return -1;
        if (n == 0) break;
        got += size_t(n);
    }
    return ssize_t(got);
}

}  // namespace

void settle_replay_before_exec() {
    if (log_is_socket() && !take_used_bytes())
        warn("tcpfo-preload: can't take the replayed entries off fd %d before exec: %s", log_fd(), strerror(errno));
}

void flush_record_buffer() {
    if (g_record_used == 0) return;
    write_or_stop(g_record_buffer, g_record_used);
    g_record_used = 0;
}

void finish_recording() {
    flush_record_buffer();
    g_write_through = true;
}

void drop_record_buffer() { g_record_used = 0; }

uint64_t recorded_bytes() { return g_recorded_bytes; }
uint64_t written_bytes() { return g_written_bytes; }
uint64_t must_hold_bytes() { return g_must_hold_bytes; }

void record_entry(const AppLogEntry& entry, bool must_hold) {
    const size_t size = app_log_entry_size(entry);
    g_recorded_bytes += size;
    if (must_hold) g_must_hold_bytes = g_recorded_bytes;
    if (size > kRecordBufferSize - g_record_used) flush_record_buffer();
    if (size > kRecordBufferSize) {
        const size_t n = encode_app_log_entry(entry, g_entry_scratch);
        write_or_stop(g_entry_scratch, n);
        return;
    }
    g_record_used += encode_app_log_entry(entry, std::span(g_record_buffer).subspan(g_record_used));
    if (g_write_through) flush_record_buffer();
}

void replay_diverged(const std::string& replica_call, const std::string& primary_call) {
    const auto index = static_cast<unsigned long long>(g_replay_index);
    warn("tcpfo-preload: replay diverged at entry %llu: the replica called %s where the primary called %s; "
         "the replica goes live",
         index, replica_call.c_str(), primary_call.c_str());
    // Best effort, never a signal: a log read from a file or pipe has nobody to tell.
    char notice[48];
    const int n = std::snprintf(notice, sizeof notice, "diverged %llu\n", index);
    if (n > 0) (void)syscall(SYS_sendto, log_fd(), notice, size_t(n), MSG_NOSIGNAL | MSG_DONTWAIT, nullptr, 0);
    go_live();
}

void replay_refused(const char* line) {
    warn("%s", line);
    char notice[48];
    const int n = std::snprintf(notice, sizeof notice, "diverged %llu\n",
                                static_cast<unsigned long long>(g_replay_index));
    if (n > 0) (void)syscall(SYS_sendto, log_fd(), notice, size_t(n), MSG_NOSIGNAL | MSG_DONTWAIT, nullptr, 0);
    go_live();
}

const AppLogEntry* replay_entry(AppLogKind called) {
    // Header, then payload: what the descriptor holds after an exec is exactly the
    // rest of the log (a socket is read ahead, and settled before an exec).
    const int saved_errno = errno;
    // Feeder names between entries are taken on the way.
    for (;;) {
        const unsigned long long index = g_replay_index + 1;
        const ssize_t header_got = read_up_to(g_entry_scratch, kAppLogHeaderSize);
        if (header_got < 0)
            die(kReplayFailedExit, "tcpfo-preload: can't read replay log entry %llu from fd %d: %s", index,
                log_fd(), strerror(errno));
        if (header_got == 0) {
            go_live();
            errno = saved_errno;
            return nullptr;
        }
        if (size_t(header_got) < kAppLogHeaderSize)
            die(kReplayFailedExit, "tcpfo-preload: replay log entry %llu is truncated: %zd of its %zu header bytes",
                index, header_got, kAppLogHeaderSize);
        auto length = app_log_payload_length(std::span(g_entry_scratch).first<kAppLogHeaderSize>());
        if (!length)
            die(kReplayFailedExit, "tcpfo-preload: replay log entry %llu is corrupt: %s", index,
                length.error().message.c_str());
        const ssize_t payload_got = read_up_to(g_entry_scratch + kAppLogHeaderSize, *length);
        if (payload_got < 0)
            die(kReplayFailedExit, "tcpfo-preload: can't read replay log entry %llu from fd %d: %s", index,
                log_fd(), strerror(errno));
        if (size_t(payload_got) < *length)
            die(kReplayFailedExit, "tcpfo-preload: replay log entry %llu is truncated: %zd of its %u payload bytes",
                index, payload_got, *length);
        auto decoded = decode_app_log_entry(std::span(g_entry_scratch).first(kAppLogHeaderSize + *length));
        if (!decoded)
            die(kReplayFailedExit, "tcpfo-preload: replay log entry %llu is corrupt: %s", index,
                decoded.error().message.c_str());
        if (!decoded->has_value())  // cannot happen: the whole entry was read
            die(kReplayFailedExit, "tcpfo-preload: replay log entry %llu is truncated", index);
        if (const auto* name = std::get_if<FeederNameEntry>(&(*decoded)->entry)) {
            note_feeder_name(*name);
            continue;  // not an entry of the log: the next one is
        }
        g_replay_index = index;
        g_replay_entry = (*decoded)->entry;
        const AppLogKind primary = app_log_kind(g_replay_entry);
        if (primary != called) {
            replay_diverged(app_log_call_name(called), app_log_call_name(primary));
            errno = saved_errno;
            return nullptr;
        }
        errno = saved_errno;
        return &g_replay_entry;
    }
}

}  // namespace tcpfo::preload
