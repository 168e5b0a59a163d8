#include "replay/replica_feed.h"

#include "userd/protocol/conn_key.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/base/tcp_socket.h"

namespace tcpfo {

namespace {
constexpr size_t kReadBudgetPerWakeup = 256 * 1024;
// A refused connect to the replica is tried again this often, this many times (2 s).
constexpr uint64_t kConnectRetryMs = 5;
constexpr int kConnectAttempts = 400;
}

Result<std::unique_ptr<ReplicaFeed>> ReplicaFeed::open(EventLoop& loop, const sockaddr_in& replica,
                                                       const ConnOpenRecord& conn, const FeedLimits& limits) {
    auto fd = connect_nonblocking(replica);
    if (!fd) return fail("{}: replica: {}", conn_label(conn), fd.error().message);
    // connect() has bound the local port already, also while it is in progress.
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (getsockname(fd->get(), reinterpret_cast<sockaddr*>(&local), &len) != 0)
        return fail("{}: replica: getsockname: {}", conn_label(conn), std::strerror(errno));
    std::unique_ptr<ReplicaFeed> feed(new ReplicaFeed(loop, std::move(*fd), conn, limits));
    ReplicaFeed* self = feed.get();
    self->local_port_ = ntohs(local.sin_port);
    self->replica_ = replica;
    self->local_ = local;
    self->interest_ = EPOLLOUT;  // connect completion
    if (auto r = loop.add(self->fd_.get(), self->interest_, [self](uint32_t ev) { self->on_events(ev); }); !r)
        return std::unexpected(r.error());
    return feed;
}

ReplicaFeed::ReplicaFeed(EventLoop& loop, UniqueFd fd, const ConnOpenRecord& conn, const FeedLimits& limits)
    : loop_(loop), fd_(std::move(fd)), conn_(conn), log_(limits.pending_input, limits.reorder),
      output_(limits.output) {}

ReplicaFeed::~ReplicaFeed() {
    if (fd_) loop_.remove(fd_.get());
    if (retry_timer_) loop_.remove(retry_timer_.get());
}

void ReplicaFeed::retry_connect_later() {
    loop_.remove(fd_.get());
    fd_.reset();
    if (!retry_timer_) {
        auto timer = make_oneshot_timer();
        if (!timer) return break_feed(fmt::format("connection refused, and {}", timer.error().message));
        retry_timer_ = std::move(*timer);
        if (auto r = loop_.add(retry_timer_.get(), EPOLLIN, [this](uint32_t) { connect_again(); }); !r)
            return break_feed(fmt::format("connection refused, and {}", r.error().message));
    }
    if (auto r = arm_oneshot_timer(retry_timer_.get(), kConnectRetryMs); !r)
        return break_feed(fmt::format("connection refused, and {}", r.error().message));
}

void ReplicaFeed::connect_again() {
    drain_timer(retry_timer_.get());
    if (broken_ || fd_) return;
    ++connect_attempts_;
    auto fd = connect_nonblocking(replica_, &local_);
    if (!fd) return break_feed(fmt::format("connection refused {} time(s), then {}", connect_attempts_ - 1,
                                           fd.error().message));
    fd_ = std::move(*fd);
    interest_ = EPOLLOUT;  // connect completion
    if (auto r = loop_.add(fd_.get(), interest_, [this](uint32_t ev) { on_events(ev); }); !r) {
        fd_.reset();
        return break_feed(r.error().message);
    }
}

UniqueFd ReplicaFeed::release_replica_socket() {
    // Its handler must not run once the feed has let go, whatever the new owner does.
    if (fd_) (void)loop_.rebind(fd_.get(), interest_, [](uint32_t) {});
    return std::move(fd_);
}

size_t ReplicaFeed::release_idle_memory() {
    return log_.release_idle_memory() + output_.release_idle_memory();
}

void ReplicaFeed::client_acknowledged(const ClientAckRecord& ack, uint64_t now_ms) {
    output_.acknowledge(ack.acked);
    client = {true, ack.window, ack.tsval, ack.tsecr, now_ms};
    // The window field is scaled by the client's shift once both sides agreed on scaling.
    const bool scaled = (conn_.client_options.present & TCPFO_OPT_WSCALE) &&
                        (conn_.server_options.present & TCPFO_OPT_WSCALE);
    output_.set_client_window(uint64_t(ack.window) << (scaled ? conn_.client_options.wscale : 0));
}

void ReplicaFeed::break_feed(const std::string& why) {
    if (broken_) return;
    broken_ = true;
    log_error("{}: replica connection failed: {}; this connection cannot be taken over", name(), why);
    if (fd_) loop_.remove(fd_.get());
    fd_.reset();
}

void ReplicaFeed::on_events(uint32_t events) {
    if (!connected_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == ECONNREFUSED && connect_attempts_ < kConnectAttempts) return retry_connect_later();
        if (err) return break_feed(connect_attempts_ > 1 ? fmt::format("{} (after {} attempts)", std::strerror(err),
                                                                         connect_attempts_)
                                                         : std::string(std::strerror(err)));
        connected_ = true;
    }
    if (events & EPOLLERR) return break_feed("socket error");
    if (events & (EPOLLIN | EPOLLHUP)) may_read_ = true;
    pump();
}

void ReplicaFeed::pump() {
    if (!fd_ || !connected_) return;
    write_input();
    if (fd_) read_output();
    if (fd_) update_interest();
}

void ReplicaFeed::write_input() {
    while (!log_.pending().empty() && log_.fed() < committed_) {
        const auto data = log_.pending().first(size_t(std::min<uint64_t>(log_.pending().size(), committed_ - log_.fed())));
        const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            return break_feed(fmt::format("send: {}", std::strerror(errno)));
        }
        log_.consume(size_t(n));
    }
    // The client's FIN goes to the replica as ours, once every byte before it has.
    if (log_.fin_logged() && !input_shut_ && committed_ >= log_.stable()) {
        ::shutdown(fd_.get(), SHUT_WR);
        input_shut_ = true;
    }
}

void ReplicaFeed::read_output() {
    uint8_t buf[64 * 1024];
    // At most this much per wake-up: a replica that streams fast must not hold the
    // loop (and so the heartbeats) while a hundred others wait. Epoll is
    // level-triggered; the rest comes next round.
    size_t budget = kReadBudgetPerWakeup;
    while (may_read_ && !output_.eof() && output_.room() > 0 && budget > 0) {
        const ssize_t n = ::recv(fd_.get(), buf, std::min(sizeof buf, output_.room()), 0);
        if (n == 0) {
            output_.set_eof();
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN) may_read_ = false;  // epoll says when there is more
            if (errno == EAGAIN || errno == EINTR) return;
            return break_feed(fmt::format("recv: {}", std::strerror(errno)));
        }
        output_.append(std::span<const uint8_t>(buf, size_t(n)));
        budget -= std::min(budget, size_t(n));
    }
    note_divergence();
}

void ReplicaFeed::expect_digest(const OutputDigestRecord& span) {
    output_.expect_digest(span);
    note_divergence();
}

void ReplicaFeed::primary_output_ended(uint64_t fin_offset) {
    output_.set_primary_end(fin_offset);
    note_divergence();
}

void ReplicaFeed::note_divergence() {
    if (output_.divergence_reported() || !output_.diverged_at()) return;
    output_.set_divergence_reported();
    log_error("{}: the replica's output differs from the primary's from server offset {} on (the service is "
              "not deterministic per connection); this connection will be reset, not continued, at takeover",
              name(), *output_.diverged_at());
}

void ReplicaFeed::update_interest() {
    uint32_t want = 0;
    // Only what may be written now: bytes above the commit point wait for a COMMIT,
    // not for the socket (a writable socket would wake the loop for nothing, again and
    // again, at the takeover's real-time priority once the primary is gone).
    if (!log_.pending().empty() && log_.fed() < committed_) want |= EPOLLOUT;
    // Stop reading while the output buffer is full: the replica then blocks, stops
    // reading its input, our pending input grows to its limit and the stable point
    // stops: backpressure all the way to the client.
    if (!output_.eof() && output_.room() > 0) want |= EPOLLIN;
    if (want != interest_) {
        interest_ = want;
        (void)loop_.modify(fd_.get(), want);
    }
}

}  // namespace tcpfo
