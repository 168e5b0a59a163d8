// Which descriptors the application found ready: epoll_wait (and epoll_pwait,
// epoll_pwait2), poll (and ppoll), select (and pselect) record their ready set as
// (descriptor, events) pairs and their result (kind 9); the replica gets the recorded
// set at once, never waiting on its own (its timeouts are the primary's too), with its
// own epoll data for each descriptor (wait_registry.h). epoll_ctl keeps the registry.
//
// A replica past its log (live) that still has parked feeder connections
// (parked_connections.h) is told its listening socket is readable, so that its
// accept() hands them out.
//
// Not replayed: select's update of its timeout argument (left as given), the signal a
// pwait variant may take (signals are not replayed), and readiness of descriptors the
// library does not feed (a pipe or eventfd another thread writes, a timerfd): the
// replica is told they are ready when the primary found them so, and what it then reads
// from them is its own.
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <signal.h>
#include <string>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "replay/preload/app_log_stream.h"
#include "replay/preload/parked_connections.h"
#include "replay/preload/preload_state.h"
#include "replay/preload/real_functions.h"
#include "replay/preload/single_caller.h"
#include "replay/preload/wait_registry.h"

using namespace tcpfo;
using namespace tcpfo::preload;

namespace {

// One entry's ready descriptors in wire form; main thread only.
uint8_t g_ready_wire[size_t(kMaxReadyFds) * kReadyFdWireSize];

std::string on(const char* call, int handle) { return std::string(call) + " on " + std::to_string(handle); }

// Recording cannot name what it saw: one line, recording stops (the service runs on).
void refuse_recording(const char* call, int handle, const char* why) {
    warn("tcpfo-preload: %s on %d: %s; a replica could not be given this ready set, recording and output "
         "commit stop, the service runs on unprotected",
         call, handle, why);
    stop();
}

const ReadyEntry* replay_ready(ReadyCall call, const char* name, int handle) {
    const AppLogEntry* entry = replay_entry(AppLogKind::ready);
    if (entry == nullptr) return nullptr;
    const auto& e = std::get<ReadyEntry>(*entry);
    static const char* const names[] = {"?", "epoll_wait", "poll", "select"};
    if (e.call != call || e.handle != handle) {
        replay_diverged(on(name, handle), on(names[uint16_t(e.call) <= 3 ? uint16_t(e.call) : 0], e.handle));
        return nullptr;
    }
    return &e;
}

// ---- epoll

// `real(events, maxevents, timeout_zero)` makes the application's epoll call, with a
// zero timeout when asked.
template <class Real>
int epoll_call(const char* name, int epfd, epoll_event* events, int maxevents, Real real) {
    switch (call_mode()) {
        case CallMode::pass_through:
            if (is_tracked_epoll(epfd)) check_single_caller(name, epfd);
            break;
        case CallMode::record: {
            if (!is_tracked_epoll(epfd)) break;  // nothing the main thread registered: not a client's
            // What was recorded before the service sleeps goes out now, not when the
            // buffer fills: an idle service's entries (its start-up, up to listen())
            // waited there for the first client, and its replica with them, which
            // refused the backup's first connections as it was not listening yet.
            flush_record_buffer();
            const int ret = real(events, std::min(maxevents, int(kMaxReadyFds)), false);
            const int err = ret < 0 ? errno : 0;
            for (int i = 0; i < ret; ++i) {
                const auto fd = registered_fd(epfd, events[i].data.u64);
                if (!fd) {
                    refuse_recording(name, epfd, "an event carries data no registration has");
                    return ret;
                }
                put_ready_fd(g_ready_wire + size_t(i) * kReadyFdWireSize, {*fd, events[i].events});
            }
            const size_t count = ret > 0 ? size_t(ret) : 0;
            record_entry(ReadyEntry{ReadyCall::epoll_wait, epfd, ret, err,
                                    std::span<const uint8_t>(g_ready_wire, count * kReadyFdWireSize)});
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            if (!is_tracked_epoll(epfd)) break;
            const ReadyEntry* e = replay_ready(ReadyCall::epoll_wait, name, epfd);
            if (e == nullptr) break;
            if (e->ret < 0) {
                errno = e->err;
                return -1;
            }
            if (e->ret > maxevents) {
                replay_diverged(on(name, epfd) + " for " + std::to_string(maxevents) + " events",
                                on("epoll_wait", epfd) + " returning " + std::to_string(e->ret));
                break;
            }
            for (int i = 0; i < e->ret; ++i) {
                const ReadyFd ready = ready_fd_at(*e, size_t(i));
                const auto data = registered_data(epfd, ready.fd);
                if (!data) {
                    replay_diverged(on(name, epfd) + " with fd " + std::to_string(ready.fd) + " never registered",
                                    on("epoll_wait", epfd) + " reporting fd " + std::to_string(ready.fd));
                    return real(events, maxevents, false);
                }
                events[i].events = ready.events;
                events[i].data.u64 = *data;
            }
            return e->ret;
        }
    }
    // Live, or not a recorded instance. Parked feeders make their listener readable.
    if (parked_count() == 0 || !is_main_thread()) return real(events, maxevents, false);
    int listeners[8];
    const int n = parked_listeners(listeners, 8);
    uint64_t wake[8];
    int waking = 0;
    for (int i = 0; i < n; ++i)
        if (auto data = registered_data(epfd, listeners[i])) wake[waking++] = *data;
    if (waking == 0) return real(events, maxevents, false);
    int ret = real(events, maxevents, true);
    if (ret < 0) ret = 0;
    for (int i = 0; i < waking && ret < maxevents; ++i) {
        const bool reported = std::any_of(events, events + ret, [&](const epoll_event& ev) {
            return ev.data.u64 == wake[i];
        });
        if (reported) continue;
        events[ret].events = EPOLLIN;
        events[ret].data.u64 = wake[i];
        ++ret;
    }
    return ret;
}

// ---- poll

// `real(timeout_zero)` makes the application's poll call.
template <class Real>
int poll_call(const char* name, pollfd* fds, nfds_t nfds, Real real) {
    const int handle = int(std::min<nfds_t>(nfds, 0x7fffffff));
    switch (call_mode()) {
        case CallMode::pass_through:
            break;
        case CallMode::record: {
            flush_record_buffer();  // as for epoll_wait
            const int ret = real(false);
            const int err = ret < 0 ? errno : 0;
            size_t count = 0;
            for (nfds_t i = 0; ret > 0 && i < nfds; ++i) {
                if (fds[i].revents == 0) continue;
                if (count == kMaxReadyFds) {
                    refuse_recording(name, handle, "more than 65536 ready descriptors");
                    return ret;
                }
                put_ready_fd(g_ready_wire + count * kReadyFdWireSize, {fds[i].fd, uint16_t(fds[i].revents)});
                ++count;
            }
            if (ret > 0 && count != size_t(ret)) {
                refuse_recording(name, handle, "the result does not count the ready descriptors");
                return ret;
            }
            record_entry(ReadyEntry{ReadyCall::poll, handle, ret, err,
                                    std::span<const uint8_t>(g_ready_wire, count * kReadyFdWireSize)});
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            const ReadyEntry* e = replay_ready(ReadyCall::poll, name, handle);
            if (e == nullptr) break;
            if (e->ret < 0) {
                errno = e->err;
                return -1;
            }
            // The recorded pairs are in array order: match them to the replica's array
            // in order (a descriptor may be in it twice).
            size_t j = 0;
            const size_t count = e->count();
            for (nfds_t i = 0; i < nfds; ++i) {
                fds[i].revents = 0;
                if (j < count && ready_fd_at(*e, j).fd == fds[i].fd) fds[i].revents = short(ready_fd_at(*e, j++).events);
            }
            if (j != count) {
                const int fd = ready_fd_at(*e, j).fd;
                replay_diverged(on(name, handle) + " without fd " + std::to_string(fd) + " where the primary found it ready",
                                on("poll", handle) + " reporting fd " + std::to_string(fd));
                return real(false);
            }
            return e->ret;
        }
    }
    if (parked_count() == 0 || !is_main_thread()) return real(false);
    bool wakes = false;
    for (nfds_t i = 0; i < nfds && !wakes; ++i) wakes = (fds[i].events & POLLIN) && has_parked(fds[i].fd);
    if (!wakes) return real(false);
    int ret = real(true);
    if (ret < 0) ret = 0;
    for (nfds_t i = 0; i < nfds; ++i) {
        if (!(fds[i].events & POLLIN) || !has_parked(fds[i].fd) || (fds[i].revents & POLLIN)) continue;
        if (fds[i].revents == 0) ++ret;
        fds[i].revents |= POLLIN;
    }
    return ret;
}

// ---- select

// `real(timeout_zero)` makes the application's select call.
template <class Real>
int select_call(const char* name, int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, Real real) {
    fd_set* sets[3] = {readfds, writefds, exceptfds};
    const uint32_t bits[3] = {kSelectRead, kSelectWrite, kSelectExcept};
    switch (call_mode()) {
        case CallMode::pass_through:
            break;
        case CallMode::record: {
            if (nfds > FD_SETSIZE) {
                refuse_recording(name, nfds, "descriptors above FD_SETSIZE");
                break;
            }
            flush_record_buffer();  // as for epoll_wait
            const int ret = real(false);
            const int err = ret < 0 ? errno : 0;
            size_t count = 0;
            for (int fd = 0; ret > 0 && fd < nfds; ++fd) {
                uint32_t mask = 0;
                for (int s = 0; s < 3; ++s)
                    if (sets[s] != nullptr && FD_ISSET(fd, sets[s])) mask |= bits[s];
                if (mask != 0) put_ready_fd(g_ready_wire + count++ * kReadyFdWireSize, {fd, mask});
            }
            record_entry(ReadyEntry{ReadyCall::select, nfds, ret, err,
                                    std::span<const uint8_t>(g_ready_wire, count * kReadyFdWireSize)});
            if (ret < 0) errno = err;
            return ret;
        }
        case CallMode::replay: {
            if (nfds > FD_SETSIZE) break;
            const ReadyEntry* e = replay_ready(ReadyCall::select, name, nfds);
            if (e == nullptr) break;
            if (e->ret < 0) {
                errno = e->err;
                return -1;
            }
            // Every recorded bit must be one the replica asked about.
            for (size_t j = 0; j < e->count(); ++j) {
                const ReadyFd r = ready_fd_at(*e, j);
                for (int s = 0; s < 3; ++s) {
                    if (!(r.events & bits[s])) continue;
                    if (r.fd >= 0 && r.fd < nfds && sets[s] != nullptr && FD_ISSET(r.fd, sets[s])) continue;
                    replay_diverged(on(name, nfds) + " without fd " + std::to_string(r.fd) + " in the set the primary found it ready in",
                                    on("select", nfds) + " reporting fd " + std::to_string(r.fd));
                    return real(false);
                }
            }
            for (int s = 0; s < 3; ++s)
                if (sets[s] != nullptr)
                    for (int fd = 0; fd < nfds; ++fd) FD_CLR(fd, sets[s]);
            for (size_t j = 0; j < e->count(); ++j) {
                const ReadyFd r = ready_fd_at(*e, j);
                for (int s = 0; s < 3; ++s)
                    if (r.events & bits[s]) FD_SET(r.fd, sets[s]);
            }
            return e->ret;
        }
    }
    if (parked_count() == 0 || !is_main_thread() || readfds == nullptr || nfds > FD_SETSIZE) return real(false);
    int listeners[8];
    const int n = parked_listeners(listeners, 8);
    bool wakes = false;
    for (int i = 0; i < n; ++i) wakes = wakes || (listeners[i] < nfds && FD_ISSET(listeners[i], readfds));
    if (!wakes) return real(false);
    fd_set asked = *readfds;
    int ret = real(true);
    if (ret < 0) {
        // Nothing else to report: only the listeners.
        ret = 0;
        for (int s = 0; s < 3; ++s)
            if (sets[s] != nullptr) FD_ZERO(sets[s]);
    }
    for (int i = 0; i < n; ++i) {
        const int fd = listeners[i];
        if (fd >= nfds || !FD_ISSET(fd, &asked) || FD_ISSET(fd, readfds)) continue;
        FD_SET(fd, readfds);
        ++ret;
    }
    return ret;
}

int real_epoll_pwait2(int epfd, epoll_event* events, int maxevents, const timespec* timeout, const sigset_t* mask) {
    if (auto real = TCPFO_REAL(epoll_pwait2)) return real(epfd, events, maxevents, timeout, mask);
    return int(syscall(SYS_epoll_pwait2, epfd, events, maxevents, timeout, mask, _NSIG / 8));
}

}  // namespace

TCPFO_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) noexcept {
    auto real = TCPFO_REAL(epoll_ctl);
    const int ret = real ? real(epfd, op, fd, event) : int(syscall(SYS_epoll_ctl, epfd, op, fd, event));
    if (ret != 0 || mode_configured() == CallMode::pass_through) return ret;
    if (!is_main_thread()) {
        if (is_tracked_epoll(epfd)) check_single_caller("epoll_ctl", epfd);
        return ret;
    }
    const int saved_errno = errno;
    if (const char* why = note_epoll_ctl(epfd, op, fd, event); why != nullptr && call_mode() == CallMode::record)
        refuse_recording("epoll_ctl", epfd, why);
    errno = saved_errno;
    return ret;
}

TCPFO_EXPORT int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
    return epoll_call("epoll_wait", epfd, events, maxevents, [&](epoll_event* ev, int max, bool zero) {
        if (auto real = TCPFO_REAL(epoll_wait)) return real(epfd, ev, max, zero ? 0 : timeout);
        return int(syscall(SYS_epoll_wait, epfd, ev, max, zero ? 0 : timeout));
    });
}

TCPFO_EXPORT int epoll_pwait(int epfd, struct epoll_event* events, int maxevents, int timeout, const sigset_t* mask) {
    return epoll_call("epoll_pwait", epfd, events, maxevents, [&](epoll_event* ev, int max, bool zero) {
        if (auto real = TCPFO_REAL(epoll_pwait)) return real(epfd, ev, max, zero ? 0 : timeout, mask);
        return int(syscall(SYS_epoll_pwait, epfd, ev, max, zero ? 0 : timeout, mask, _NSIG / 8));
    });
}

TCPFO_EXPORT int epoll_pwait2(int epfd, struct epoll_event* events, int maxevents, const struct timespec* timeout,
                              const sigset_t* mask) {
    return epoll_call("epoll_pwait2", epfd, events, maxevents, [&](epoll_event* ev, int max, bool zero) {
        const timespec none{0, 0};
        return real_epoll_pwait2(epfd, ev, max, zero ? &none : timeout, mask);
    });
}

TCPFO_EXPORT int poll(struct pollfd* fds, nfds_t nfds, int timeout) {
    return poll_call("poll", fds, nfds, [&](bool zero) {
        if (auto real = TCPFO_REAL(poll)) return real(fds, nfds, zero ? 0 : timeout);
        return int(syscall(SYS_poll, fds, nfds, zero ? 0 : timeout));
    });
}

TCPFO_EXPORT int ppoll(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout, const sigset_t* mask) {
    return poll_call("ppoll", fds, nfds, [&](bool zero) {
        const timespec none{0, 0};
        if (auto real = TCPFO_REAL(ppoll)) return real(fds, nfds, zero ? &none : timeout, mask);
        return int(syscall(SYS_ppoll, fds, nfds, zero ? &none : timeout, mask, _NSIG / 8));
    });
}

TCPFO_EXPORT int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, struct timeval* timeout) {
    return select_call("select", nfds, readfds, writefds, exceptfds, [&](bool zero) {
        timeval none{0, 0};
        if (auto real = TCPFO_REAL(select)) return real(nfds, readfds, writefds, exceptfds, zero ? &none : timeout);
        return int(syscall(SYS_select, nfds, readfds, writefds, exceptfds, zero ? &none : timeout));
    });
}

TCPFO_EXPORT int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
                         const struct timespec* timeout, const sigset_t* mask) {
    return select_call("pselect", nfds, readfds, writefds, exceptfds, [&](bool zero) {
        const timespec none{0, 0};
        if (auto real = TCPFO_REAL(pselect)) return real(nfds, readfds, writefds, exceptfds, zero ? &none : timeout, mask);
        errno = ENOSYS;
        return -1;
    });
}
