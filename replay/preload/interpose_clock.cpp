// clock_gettime, gettimeofday, time: recorded in the primary, replayed in the replica.
#include <cerrno>
#include <string>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "replay/preload/allocator_calls.h"
#include "replay/preload/app_log_stream.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/real_functions.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

// The raw syscalls stand in while libc's definition is being resolved (next_symbol).
int real_clock_gettime(clockid_t clockid, struct timespec* tp) {
    if (auto real = TCPFO_REAL(clock_gettime)) return real(clockid, tp);
    return int(syscall(SYS_clock_gettime, clockid, tp));
}

int real_gettimeofday(struct timeval* tv, void* tz) {
    if (auto real = TCPFO_REAL(gettimeofday)) return real(tv, tz);
    return int(syscall(SYS_gettimeofday, tv, tz));
}

time_t real_time(time_t* tloc) {
    if (auto real = TCPFO_REAL(time)) return real(tloc);
    return time_t(syscall(SYS_time, tloc));
}

// The allocator's own clock reads pass through (allocator_calls.h).
CallMode call_mode_of(const void* caller) {
    const CallMode mode = call_mode();
    if (mode != CallMode::pass_through && called_by_allocator(caller)) return CallMode::pass_through;
    return mode;
}

}  // namespace

TCPFO_EXPORT int clock_gettime(clockid_t clockid, struct timespec* tp) noexcept {
    switch (call_mode_of(__builtin_return_address(0))) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            const int ret = real_clock_gettime(clockid, tp);
            const int err = ret != 0 ? errno : 0;
            ClockGettimeEntry e{clockid, ret, err, 0, 0};
            if (ret == 0) { e.sec = tp->tv_sec; e.nsec = tp->tv_nsec; }
            record_entry(e);
            return ret;
        }
        case CallMode::replay: {
            const AppLogEntry* entry = replay_entry(AppLogKind::clock_gettime);
            if (entry == nullptr) break;
            const auto& e = std::get<ClockGettimeEntry>(*entry);
            // Another clock is another path: CLOCK_MONOTONIC is not CLOCK_REALTIME.
            if (e.clockid != clockid) {
                replay_diverged("clock_gettime(" + std::to_string(clockid) + ")",
                                "clock_gettime(" + std::to_string(e.clockid) + ")");
                break;  // live from here
            }
            if (e.ret != 0) {
                errno = e.err;
                return e.ret;
            }
            tp->tv_sec = time_t(e.sec);
            tp->tv_nsec = long(e.nsec);
            return 0;
        }
    }
    return real_clock_gettime(clockid, tp);
}

TCPFO_EXPORT int gettimeofday(struct timeval* tv, void* tz) noexcept {
    switch (call_mode_of(__builtin_return_address(0))) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            const int ret = real_gettimeofday(tv, tz);
            const int err = ret != 0 ? errno : 0;
            GettimeofdayEntry e{ret, err, 0, 0};
            if (ret == 0) { e.sec = tv->tv_sec; e.usec = tv->tv_usec; }
            record_entry(e);
            return ret;
        }
        case CallMode::replay: {
            const AppLogEntry* entry = replay_entry(AppLogKind::gettimeofday);
            if (entry == nullptr) break;
            const auto& e = std::get<GettimeofdayEntry>(*entry);
            if (e.ret != 0) {
                errno = e.err;
                return e.ret;
            }
            // The obsolete time zone is the host's setting, not a moving value: ask the
            // kernel for it (into a scratch timeval).
            if (tz != nullptr) {
                struct timeval ignored;
                real_gettimeofday(&ignored, tz);
            }
            tv->tv_sec = time_t(e.sec);
            tv->tv_usec = suseconds_t(e.usec);
            return 0;
        }
    }
    return real_gettimeofday(tv, tz);
}

TCPFO_EXPORT time_t time(time_t* tloc) noexcept {
    switch (call_mode_of(__builtin_return_address(0))) {
        case CallMode::pass_through: break;
        case CallMode::record: {
            const time_t t = real_time(tloc);
            const int saved_errno = errno;
            record_entry(TimeEntry{int64_t(t)});
            errno = saved_errno;
            return t;
        }
        case CallMode::replay: {
            const AppLogEntry* entry = replay_entry(AppLogKind::time);
            if (entry == nullptr) break;
            const time_t t = time_t(std::get<TimeEntry>(*entry).t);
            if (tloc != nullptr) *tloc = t;
            return t;
        }
    }
    return real_time(tloc);
}
