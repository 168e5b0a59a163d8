#include "userd/base/event_loop.h"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

namespace tcpfo {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
    UniqueFd fd(epoll_create1(EPOLL_CLOEXEC));
    if (!fd) return sys_fail(errno, "can't create epoll instance");
    return std::unique_ptr<EventLoop>(new EventLoop(std::move(fd)));
}

Result<void> EventLoop::add(int fd, uint32_t events, Handler handler) {
    auto entry = std::make_shared<Entry>(Entry{std::move(handler), next_generation_++});
    epoll_event ev{};
    ev.events = events;
    // The generation tells a stale event (fd removed and reused within one batch)
    // from a live one.
    ev.data.u64 = (uint64_t(entry->generation) << 32) | uint32_t(fd);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
        return sys_fail(errno, "can't watch fd {}", fd);
    entries_[fd] = std::move(entry);
    return {};
}

Result<void> EventLoop::modify(int fd, uint32_t events) {
    auto it = entries_.find(fd);
    if (it == entries_.end()) return fail("fd {} is not watched", fd);
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = (uint64_t(it->second->generation) << 32) | uint32_t(fd);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
        return sys_fail(errno, "can't change events of fd {}", fd);
    return {};
}

void EventLoop::remove(int fd) {
    if (entries_.erase(fd)) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
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
        auto it = entries_.find(fd);
        if (it == entries_.end() || it->second->generation != generation) continue;
        auto entry = it->second;  // keeps the handler alive if it removes itself
        entry->handler(events[i].events);
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

uint64_t realtime_us() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000 + uint64_t(ts.tv_nsec) / 1000;
}

}  // namespace tcpfo
