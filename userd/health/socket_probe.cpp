#include "userd/health/socket_probe.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>


namespace tcpfo {
namespace {

class SocketProbe final : public Probe {
public:
    SocketProbe(EventLoop& loop, SocketProbeConfig config, Done done)
        : loop_(loop), config_(std::move(config)), done_(std::move(done)) {}

    ~SocketProbe() override { release(); }

    Result<void> start() {
        auto timer = make_oneshot_timer();
        if (!timer) return std::unexpected(timer.error());
        timer_ = std::move(*timer);
        if (auto r = loop_.add(timer_.get(), EPOLLIN, [this](uint32_t) { on_deadline(); }); !r)
            return std::unexpected(r.error());
        socket_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!socket_) return sys_fail(errno, "can't create a socket");
        if (::connect(socket_.get(), reinterpret_cast<const sockaddr*>(&config_.target), sizeof config_.target) != 0 &&
            errno != EINPROGRESS) {
            // Loopback refuses at once: the connect's own errno is the reason.
            finish({false, errno_reason(errno)});
            return {};
        }
        if (auto r = loop_.add(socket_.get(), EPOLLOUT, [this](uint32_t events) { on_socket(events); }); !r)
            return std::unexpected(r.error());
        arm(config_.connect_timeout_ms);
        return {};
    }

private:
    enum class Phase { connecting, receiving, finished };

    void arm(int ms) {
        if (auto r = arm_oneshot_timer(timer_.get(), uint64_t(ms)); !r) finish({false, r.error().message});
    }

    void on_socket(uint32_t events) {
        if (phase_ == Phase::connecting) return on_connected();
        if (phase_ == Phase::receiving && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable();
    }

    void on_connected() {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return finish({false, errno_reason(err)});
        if (!config_.judge) return finish({true, ""});
        if (!config_.request.empty()) {
            // A request of a few hundred bytes fits an empty socket buffer whole.
            const ssize_t n = ::send(socket_.get(), config_.request.data(), config_.request.size(), MSG_NOSIGNAL);
            if (n != ssize_t(config_.request.size()))
                return finish({false, n < 0 ? errno_reason(errno) : "request not sent whole"});
        }
        phase_ = Phase::receiving;
        if (auto r = loop_.modify(socket_.get(), EPOLLIN); !r) return finish({false, r.error().message});
        arm(config_.receive_timeout_ms);
    }

    void on_readable() {
        char buf[16384];
        bool closed = false;
        for (;;) {
            const size_t room = config_.max_response - received_.size();
            if (room == 0) {
                closed = true;
                break;
            }
            const ssize_t n = ::recv(socket_.get(), buf, std::min(room, sizeof buf), 0);
            if (n > 0) {
                received_.append(buf, size_t(n));
                continue;
            }
            if (n == 0) closed = true;
            else if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            else if (errno == EINTR) continue;
            else return finish({false, errno_reason(errno)});
            break;
        }
        if (auto verdict = config_.judge(received_, closed)) return finish(std::move(*verdict));
        if (closed) finish({false, "connection closed"});
    }

    void on_deadline() {
        drain_timer(timer_.get());
        if (phase_ == Phase::connecting) return finish({false, timeout_reason(config_.connect_timeout_ms)});
        if (phase_ != Phase::receiving) return;
        if (!received_.empty() && !config_.reason_if_partial_at_timeout.empty())
            return finish({false, config_.reason_if_partial_at_timeout});
        finish({false, timeout_reason(config_.receive_timeout_ms)});
    }

    void finish(ProbeOutcome outcome) {
        if (phase_ == Phase::finished) return;
        phase_ = Phase::finished;
        release();
        done_(std::move(outcome));  // last: the scheduler may retire this probe
    }

    void release() {
        if (socket_) {
            loop_.remove(socket_.get());
            socket_.reset();
        }
        if (timer_) {
            loop_.remove(timer_.get());
            timer_.reset();
        }
    }

    EventLoop& loop_;
    SocketProbeConfig config_;
    Done done_;
    Phase phase_ = Phase::connecting;
    UniqueFd socket_, timer_;
    std::string received_;
};

}  // namespace

std::string timeout_reason(int timeout_ms) { return fmt::format("timeout after {} ms", timeout_ms); }

std::string errno_reason(int err) {
    std::string text = std::strerror(err);
    if (!text.empty()) text[0] = char(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
}

Result<std::unique_ptr<Probe>> start_socket_probe(EventLoop& loop, SocketProbeConfig config, Probe::Done done) {
    auto probe = std::make_unique<SocketProbe>(loop, std::move(config), std::move(done));
    if (auto r = probe->start(); !r) return std::unexpected(r.error());
    return probe;
}

}  // namespace tcpfo
