// A single-threaded epoll loop: every socket, timer and ring buffer of failoverd is
// an fd with a handler. Handlers never throw; they report errors through logs and
// their owners' state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"

namespace tcpfo {

class EventLoop {
public:
    using Handler = std::function<void(uint32_t events)>;

    static Result<std::unique_ptr<EventLoop>> create();

    Result<void> add(int fd, uint32_t events, Handler handler);
    // No syscall when the interest is already `events`.
    Result<void> modify(int fd, uint32_t events);
    // Gives a watched descriptor a new owner: its handler is replaced and its interest
    // changed, without leaving epoll and coming back (two syscalls saved per socket at
    // takeover, when every replica connection moves from its feed to its splice).
    Result<void> rebind(int fd, uint32_t events, Handler handler);
    // Safe to call from inside a handler, also for the fd being dispatched.
    void remove(int fd);
    // Waits at most timeout_ms and dispatches what is ready.
    Result<void> run_once(int timeout_ms);

private:
    explicit EventLoop(UniqueFd epoll) : epoll_(std::move(epoll)) {}
    // One slot per descriptor number, in place: a watched socket costs 40 bytes here
    // (a hash node and a shared entry cost about 120), which counts at ten thousand
    // connections.
    struct Slot {
        Handler handler;
        uint32_t generation = 0;  // 0: not watched
        uint32_t events = 0;      // the interest epoll has
    };
    Slot* slot(int fd);
    UniqueFd epoll_;
    std::vector<Slot> slots_;
    uint32_t next_generation_ = 1;
};

// A periodic CLOCK_MONOTONIC timerfd; the handler must read() it.
Result<UniqueFd> make_periodic_timer(int interval_ms);
void drain_timer(int fd);
// A one-shot CLOCK_MONOTONIC timerfd, disarmed until arm_oneshot_timer().
Result<UniqueFd> make_oneshot_timer();
// Fires once after delay_ms (0 disarms); re-arming replaces the previous deadline.
Result<void> arm_oneshot_timer(int fd, uint64_t delay_ms);
uint64_t monotonic_ms();
uint64_t monotonic_us();
// Wall-clock microseconds since the epoch, the clock of log lines and status reports.
uint64_t realtime_us();

}  // namespace tcpfo
