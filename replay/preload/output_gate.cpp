#include "replay/preload/output_gate.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/fd_bitset.h"
#include "replay/preload/preload_state.h"

namespace tcpfo::preload {
namespace {

constexpr size_t kHeldMessageSize = 8;
// This long without a word from failoverd while a write waits is worth one line (the
// backups are slow or gone and failoverd has not said so yet); the write keeps waiting:
// letting it go would break the invariant.
constexpr int kSlowWaitMs = 10 * 1000;

constinit FdBitset g_protected;

// Main thread only (record mode), like the log stream itself.
bool g_gate_on = false;
int g_log_fd = -1;
uint64_t g_held = 0;  // the latest offset failoverd reported
uint8_t g_partial[kHeldMessageSize];
size_t g_partial_size = 0;

// The channel is broken: the service runs on without output commit. Recording stops
// too: a log the daemon no longer reads protects nothing.
void give_up(const char* why) {
    warn("tcpfo-preload: the application log channel on fd %d broke while output waited (%s): "
         "recording and output commit stop, the service runs on unprotected",
         g_log_fd, why);
    g_gate_on = false;
    stop();
}

// Takes whole held messages out of `bytes`, keeping a split one for the next read.
// Returns false (after give_up) on an offset that goes back or beyond what was written.
bool take_held_messages(const uint8_t* bytes, size_t size) {
    for (size_t i = 0; i < size; ++i) {
        g_partial[g_partial_size++] = bytes[i];
        if (g_partial_size < kHeldMessageSize) continue;
        g_partial_size = 0;
        uint64_t held = 0;
        for (uint8_t b : g_partial) held = held << 8 | b;
        char why[160];
        if (held < g_held) {
            snprintf(why, sizeof why, "held offset went back from %llu to %llu",
                     static_cast<unsigned long long>(g_held), static_cast<unsigned long long>(held));
            give_up(why);
            return false;
        }
        if (held > written_bytes()) {
            snprintf(why, sizeof why, "held offset %llu is beyond the %llu bytes written",
                     static_cast<unsigned long long>(held),
                     static_cast<unsigned long long>(written_bytes()));
            give_up(why);
            return false;
        }
        g_held = held;
    }
    return true;
}

void wait_until_held(uint64_t target) {
    flush_record_buffer();
    if (call_mode() != CallMode::record) return;  // the flush failed and stopped recording
    bool said_slow = false;
    while (g_held < target) {
        // The raw syscall: poll() is interposed (a recorded wait).
        pollfd readable{g_log_fd, POLLIN, 0};
        const int ready = int(syscall(SYS_poll, &readable, 1, said_slow ? -1 : kSlowWaitMs));
        if (ready < 0) {
            if (errno == EINTR) continue;
            give_up(strerror(errno));
            return;
        }
        if (ready == 0) {
            warn("tcpfo-preload: output to a client waits for the backups to hold the application "
                 "log and failoverd has said nothing for %d s (held %llu of %llu bytes); still waiting",
                 kSlowWaitMs / 1000, static_cast<unsigned long long>(g_held),
                 static_cast<unsigned long long>(target));
            said_slow = true;
            continue;
        }
        // The raw syscall: read() is interposed. Whatever is there: several messages,
        // or part of one.
        uint8_t bytes[64 * kHeldMessageSize];
        const long n = syscall(SYS_read, g_log_fd, bytes, sizeof bytes);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            give_up(strerror(errno));
            return;
        }
        if (n == 0) {
            give_up("failoverd closed it");
            return;
        }
        if (!take_held_messages(bytes, size_t(n))) return;
    }
}

}  // namespace

void set_up_output_gate(int log_fd, bool after_exec) {
    struct stat st{};
    if (fstat(log_fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
    if (after_exec) {
        warn("tcpfo-preload: output commit is off after an exec in the recorded process (the "
             "daemon's held offsets count bytes the previous image wrote); recording goes on");
        return;
    }
    g_log_fd = log_fd;
    g_gate_on = true;
}

void protect_socket(int fd, bool is_protected) { g_protected.set(fd, is_protected); }

bool is_protected_socket(int fd) { return g_protected.test(fd); }

void gate_output(int fd) {
    // A bit test first: write() is the hot path of every server.
    if (!g_protected.test(fd)) return;
    if (call_mode() != CallMode::record || !g_gate_on) return;
    const uint64_t target = must_hold_bytes();
    if (g_held >= target) return;
    const int saved_errno = errno;
    wait_until_held(target);
    errno = saved_errno;
}

}  // namespace tcpfo::preload
