#include "userd/status/control_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <exception>

#include "userd/base/log.h"
#include "userd/status/status_json.h"

namespace tcpfo {

namespace {

constexpr size_t kAcceptsPerWakeup = 16;
constexpr uint64_t kListenerPauseMs = 100;  // after accept() ran out of descriptors

Result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return fail("control socket '{}': a path of 1 to {} bytes is needed", path, sizeof addr.sun_path - 1);
    path.copy(addr.sun_path, path.size());
    return addr;
}

}  // namespace

ControlServer::ControlServer(EventLoop& loop, std::string path, Limits limits)
    : loop_(loop), path_(std::move(path)), limits_(limits) {}

Result<std::unique_ptr<ControlServer>> ControlServer::open(EventLoop& loop, std::string path) {
    return open(loop, std::move(path), Limits{});
}

Result<std::unique_ptr<ControlServer>> ControlServer::open(EventLoop& loop, std::string path, Limits limits) {
    std::unique_ptr<ControlServer> server(new ControlServer(loop, std::move(path), limits));
    ControlServer* self = server.get();
    if (auto r = self->bind_and_listen(); !r) return std::unexpected(r.error());
    // From here on the destructor removes the socket again.
    if (auto r = loop.add(self->listener_.get(), EPOLLIN, [self](uint32_t) { self->on_accept(); }); !r)
        return std::unexpected(r.error());
    auto timer = make_oneshot_timer();
    if (!timer) return std::unexpected(timer.error());
    self->timer_ = std::move(*timer);
    if (auto r = loop.add(self->timer_.get(), EPOLLIN, [self](uint32_t) { self->on_timer(); }); !r)
        return std::unexpected(r.error());
    return server;
}

Result<void> ControlServer::bind_and_listen() {
    auto addr = unix_address(path_);
    if (!addr) return std::unexpected(addr.error());

    // The directory: created private if missing (the default, /run/tcpfo), used as is
    // otherwise.
    if (const auto slash = path_.rfind('/'); slash != std::string::npos && slash > 0) {
        const std::string dir = path_.substr(0, slash);
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) {
            if (errno != ENOENT) return sys_fail(errno, "control socket {}: can't use directory {}", path_, dir);
            if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
                return sys_fail(errno, "control socket {}: can't create directory {}", path_, dir);
        } else if (!S_ISDIR(st.st_mode)) {
            return fail("control socket {}: {} is not a directory", path_, dir);
        }
    }

    // Something already there: a live failoverd answers, a stale socket refuses.
    if (struct stat st {}; ::lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return fail("control socket {}: the path exists and is not a socket", path_);
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!probe) return sys_fail(errno, "control socket {}: can't create socket", path_);
        if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) == 0 || errno == EAGAIN)
            return fail("another failoverd is running on control socket {}", path_);
        if (errno != ECONNREFUSED && errno != ENOENT)
            return sys_fail(errno, "control socket {}: can't tell whether it is in use", path_);
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
            return sys_fail(errno, "control socket {}: can't remove the stale socket", path_);
        log_info("control socket {}: replaced a stale socket", path_);
    }

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "control socket {}: can't create socket", path_);
    // Owner only: the status names every client. (umask is process-wide; failoverd
    // is single-threaded and this runs at start-up.)
    const mode_t old_mask = ::umask(0177);
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
    const int bind_errno = errno;
    ::umask(old_mask);
    if (bound != 0) {
        if (bind_errno == EADDRINUSE) return fail("another failoverd is running on control socket {}", path_);
        return sys_fail(bind_errno, "control socket {}: can't bind", path_);
    }
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
        socket_dev_ = st.st_dev;
        socket_ino_ = st.st_ino;
    }
    if (::listen(fd.get(), 16) != 0) {
        const int err = errno;
        ::unlink(path_.c_str());
        return sys_fail(err, "control socket {}: can't listen", path_);
    }
    listener_ = std::move(fd);
    return {};
}

ControlServer::~ControlServer() {
    for (auto& [fd, client] : clients_) loop_.remove(fd);
    clients_.clear();
    if (timer_) loop_.remove(timer_.get());
    if (!listener_) return;
    loop_.remove(listener_.get());
    listener_.reset();
    // Only our own socket: a path someone replaced meanwhile is theirs.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
        ::unlink(path_.c_str());
}

void ControlServer::set_status_source(StatusSource source) {
    source_ = std::move(source);
    if (source_) return;
    for (auto& [fd, client] : clients_) loop_.remove(fd);
    clients_.clear();
}

void ControlServer::on_accept() {
    for (size_t i = 0; i < kAcceptsPerWakeup; ++i) {
        UniqueFd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            // Out of descriptors: the connection stays pending and the listener would
            // wake the loop forever. Pause it a little.
            log_warn("control socket {}: accept failed: {}", path_, std::strerror(errno));
            (void)loop_.modify(listener_.get(), 0);
            listener_paused_until_ms_ = monotonic_ms() + kListenerPauseMs;
            arm_timer();
            return;
        }
        if (clients_.size() >= limits_.max_clients) {
            const std::string busy = render_error(fmt::format("busy: {} clients already", clients_.size()));
            [[maybe_unused]] ssize_t n = ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            continue;  // closed here
        }
        const int raw = fd.get();
        auto client = std::make_unique<Client>();
        client->fd = std::move(fd);
        client->deadline_ms = monotonic_ms() + limits_.client_timeout_ms;
        client->interest = EPOLLIN;
        if (auto r = loop_.add(raw, EPOLLIN, [this, raw](uint32_t ev) { on_client_events(raw, ev); }); !r) {
            log_warn("control socket {}: {}", path_, r.error().message);
            continue;
        }
        clients_.emplace(raw, std::move(client));
        arm_timer();
    }
}

void ControlServer::on_client_events(int fd, uint32_t events) {
    auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    Client& client = *it->second;
    if (!client.answering) {
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
        if (!read_request(client)) return drop(fd);
        if (!client.answering) return;  // more of the request to come
        if (client.handover) return hand_over(fd);
    } else if (events & EPOLLERR) {
        return drop(fd);
    }
    if (!pump(client)) drop(fd);
}

bool ControlServer::read_request(Client& client) {
    char buf[1024];
    for (;;) {
        const ssize_t n = ::recv(client.fd.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        if (n == 0) {
            // EOF: a request without its newline still counts; nothing at all is a probe.
            if (client.in.empty()) return false;
            answer(client, client.in);
            return true;
        }
        client.in.append(buf, size_t(n));
        if (const auto newline = client.in.find('\n'); newline != std::string::npos) {
            answer(client, std::string_view(client.in).substr(0, newline));
            return true;
        }
        if (client.in.size() > limits_.max_request) {
            answer(client, client.in);  // refused as too long, without parsing
            return true;
        }
    }
}

void ControlServer::answer(Client& client, std::string_view line) {
    client.answering = true;
    auto request = line.size() > limits_.max_request
                       ? Result<ControlRequest>(fail("request longer than {} bytes", limits_.max_request))
                       : parse_control_request(line);
    if (request && request->command == ControlRequest::Command::service) {
        auto offer = service_ ? service_(request->pid)
                              : Result<ServiceOffer>(fail("this failoverd does not run services"));
        if (!offer) {
            log_warn("control: service of pid {} refused: {}", request->pid, offer.error().message);
            client.out = render_error(offer.error().message);
        } else {
            client.handover = std::move(*offer);
            // What came after the request line already belongs to the channel.
            const size_t newline = client.in.find('\n');
            client.in.erase(0, newline == std::string::npos ? client.in.size() : newline + 1);
            return;
        }
    } else if (!request) {
        client.out = render_error(request.error().message);
    } else if (request->command == ControlRequest::Command::handover) {
        auto to = handover_ ? handover_(request->node) : Result<std::string>(fail("failoverd is still starting"));
        if (!to) {
            log_warn("control: handover refused: {}", to.error().message);
            client.out = render_error(to.error().message);
        } else {
            client.out = render_handover_sent(*to);
        }
    } else if (!source_) {
        client.out = render_error("failoverd is still starting");
    } else {
        try {
            NodeStatus status = source_();
            if (request->conn) {
                client.out = render_one_conn(status, *request->conn);
            } else {
                log_debug("control: status of {} connection(s)", status.conns.size());
                client.renderer = std::make_unique<StatusRenderer>(std::move(status));
            }
        } catch (const std::exception& e) {
            client.out = render_error(fmt::format("can't take a status: {}", e.what()));
        }
    }
    client.in.clear();
    client.in.shrink_to_fit();
}

bool ControlServer::pump(Client& client) {
    size_t pieces = 0;
    for (;;) {
        if (client.out_pos == client.out.size()) {
            client.out.clear();
            client.out_pos = 0;
            if (!client.renderer || pieces == limits_.pieces_per_wakeup) break;
            if (!client.renderer->next(client.out, limits_.conns_per_piece)) {
                client.renderer.reset();
                break;
            }
            ++pieces;
            continue;
        }
        const ssize_t n = ::send(client.fd.get(), client.out.data() + client.out_pos,
                                 client.out.size() - client.out_pos, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            client.out_pos += size_t(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;  // the client went away
    }
    if (client.out.empty() && !client.renderer) return false;  // all written: close
    // More to write, or to render after this wake-up's share: wait until writable
    // (at once, when it already is: the loop serves other events in between).
    set_interest(client, EPOLLOUT);
    return true;
}

void ControlServer::set_interest(Client& client, uint32_t events) {
    if (client.interest == events) return;
    client.interest = events;
    (void)loop_.modify(client.fd.get(), events);
}

void ControlServer::hand_over(int fd) {
    auto it = clients_.find(fd);
    std::unique_ptr<Client> client = std::move(it->second);
    clients_.erase(it);
    loop_.remove(fd);
    // One short line into a fresh socket's empty buffer: it fits; if not, the
    // service cannot be told its mode and is better refused.
    const std::string reply = "{\"mode\":\"" + client->handover->mode + "\"}\n";
    if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != ssize_t(reply.size())) {
        log_warn("control socket {}: could not answer a service request: {}", path_, std::strerror(errno));
        return;
    }
    auto take = std::move(client->handover->take);
    take(std::move(client->fd), std::move(client->in));
}

void ControlServer::drop(int fd) {
    // A unix socket closed with unread input resets its peer, which may then lose the
    // answer still queued for it (a request that was too long, a pipelined second
    // one): discard a little of what is left first.
    char discard[4096];
    for (int i = 0; i < 16 && ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
    }
    loop_.remove(fd);
    clients_.erase(fd);
}

void ControlServer::on_timer() {
    drain_timer(timer_.get());
    const uint64_t now = monotonic_ms();
    std::vector<int> expired;
    for (const auto& [fd, client] : clients_)
        if (now >= client->deadline_ms) expired.push_back(fd);
    for (int fd : expired) {
        log_debug("control socket {}: a client took longer than {} ms; closed", path_, limits_.client_timeout_ms);
        drop(fd);
    }
    if (listener_paused_until_ms_ && now >= listener_paused_until_ms_) {
        listener_paused_until_ms_ = 0;
        (void)loop_.modify(listener_.get(), EPOLLIN);
    }
    arm_timer();
}

void ControlServer::arm_timer() {
    uint64_t earliest = listener_paused_until_ms_ ? listener_paused_until_ms_ : UINT64_MAX;
    for (const auto& [fd, client] : clients_) earliest = std::min(earliest, client->deadline_ms);
    const uint64_t now = monotonic_ms();
    const uint64_t delay = earliest == UINT64_MAX ? 0 : earliest > now ? earliest - now : 1;
    if (auto r = arm_oneshot_timer(timer_.get(), delay); !r) log_warn("control socket {}: {}", path_, r.error().message);
}

}  // namespace tcpfo
