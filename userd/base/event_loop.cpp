#include "userd/base/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

#include <algorithm>

namespace tcpfo {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
    UniqueFd fd(epoll_create1(EPOLL_CLOEXEC));
    if (!fd) return sys_fail(errno, "can't create epoll instance");
    return std::unique_ptr<EventLoop>(new EventLoop(std::move(fd)));
}

EventLoop::Slot* EventLoop::slot(int fd) {
    if (fd < 0 || size_t(fd) >= slots_.size() || slots_[size_t(fd)].generation == 0) return nullptr;
    return &slots_[size_t(fd)];
}

Result<void> EventLoop::add(int fd, uint32_t events, Handler handler) {
    if (fd < 0) return fail("can't watch fd {}", fd);
    if (slot(fd)) return fail("can't watch fd {}: already watched", fd);
    uint32_t generation = next_generation_++;
    if (generation == 0) generation = next_generation_++;  // 0 marks a free slot
    epoll_event ev{};
    ev.events = events;
    // The generation tells a stale event (fd removed and reused within one batch)
    // from a live one.
    ev.data.u64 = (uint64_t(generation) << 32) | uint32_t(fd);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
        return sys_fail(errno, "can't watch fd {}", fd);
    // Safe inside a handler: dispatch runs a copy of the handler, not the slot's.
    if (size_t(fd) >= slots_.size()) slots_.resize(std::max(size_t(fd) + 1, slots_.size() * 2));
    slots_[size_t(fd)] = Slot{std::move(handler), generation, events};
    return {};
}

Result<void> EventLoop::modify(int fd, uint32_t events) {
    Slot* s = slot(fd);
    if (!s) return fail("fd {} is not watched", fd);
    if (s->events == events) return {};
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = (uint64_t(s->generation) << 32) | uint32_t(fd);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
        return sys_fail(errno, "can't change events of fd {}", fd);
    s->events = events;
    return {};
}

Result<void> EventLoop::rebind(int fd, uint32_t events, Handler handler) {
    Slot* s = slot(fd);
    if (!s) return fail("fd {} is not watched", fd);
    if (auto r = modify(fd, events); !r) return r;
    // Safe inside a handler, for the same reason as add().
    s->handler = std::move(handler);
    return {};
}

void EventLoop::remove(int fd) {
    Slot* s = slot(fd);
    if (!s) return;
    s->generation = 0;
    s->handler = nullptr;
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

Result<void> EventLoop::run_once(int timeout_ms) {
    epoll_event events[64];
    const int n = epoll_wait(epoll_.get(), events, 64, timeout_ms);
    if (n < 0) {
        if (errno == EINTR) return {};
        return sys_fail(errno, "epoll_wait failed");
    }
    for (int i = 0; i < n; ++i) {
        const int fd = int(uint32_t(events[i].data.u64));
        const uint32_t generation = uint32_t(events[i].data.u64 >> 32);
        const Slot* s = slot(fd);
        if (!s || s->generation != generation) continue;
        // A copy (the handlers capture a pointer or two: no allocation), so a handler
        // may remove itself, add descriptors (the slots may move) or run the loop
        // again from inside.
        const Handler handler = s->handler;
        handler(events[i].events);
    }
    return {};
}

Result<UniqueFd> make_periodic_timer(int interval_ms) {
    UniqueFd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!fd) return sys_fail(errno, "can't create timer");
    itimerspec spec{};
    spec.it_interval.tv_sec = interval_ms / 1000;
    spec.it_interval.tv_nsec = long(interval_ms % 1000) * 1000000;
    spec.it_value = spec.it_interval;
    if (timerfd_settime(fd.get(), 0, &spec, nullptr) != 0) return sys_fail(errno, "can't arm timer");
    return fd;
}

Result<UniqueFd> make_oneshot_timer() {
    UniqueFd fd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!fd) return sys_fail(errno, "can't create timer");
    return fd;
}

Result<void> arm_oneshot_timer(int fd, uint64_t delay_ms) {
    itimerspec spec{};
    spec.it_value.tv_sec = time_t(delay_ms / 1000);
    spec.it_value.tv_nsec = long(delay_ms % 1000) * 1000000;
    if (timerfd_settime(fd, 0, &spec, nullptr) != 0) return sys_fail(errno, "can't arm timer");
    return {};
}

void drain_timer(int fd) {
    uint64_t expirations;
    [[maybe_unused]] ssize_t n = ::read(fd, &expirations, sizeof expirations);
}

uint64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

uint64_t monotonic_us() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

uint64_t realtime_us() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

}  // namespace tcpfo
