#include "userd/primary/app_log_relay.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "userd/base/log.h"

namespace tcpfo {

namespace {
// One APP_LOG record carries at most this much (well under kMaxRecordPayload).
constexpr size_t kChunk = 64 * 1024;
}

Result<std::unique_ptr<AppLogRelay>> AppLogRelay::open(EventLoop& loop, UniqueFd fd, std::string leftover, int pid,
                                                       std::vector<bool> holders, SendTo send) {
    std::unique_ptr<AppLogRelay> r(new AppLogRelay(loop, std::move(fd), pid, std::move(holders), std::move(send)));
    AppLogRelay* self = r.get();
    if (auto added = loop.add(self->fd_.get(), EPOLLIN, [self](uint32_t events) { self->on_events(events); }); !added)
        return std::unexpected(added.error());
    self->interest_ = EPOLLIN;
    log_info("service pid {}: recording its application log; {} backup(s) hold it", pid, self->holders());
    if (!leftover.empty()) self->forward(std::span(reinterpret_cast<const uint8_t*>(leftover.data()), leftover.size()));
    self->recompute_held();
    return r;
}

AppLogRelay::AppLogRelay(EventLoop& loop, UniqueFd fd, int pid, std::vector<bool> holders, SendTo send)
    : loop_(loop), fd_(std::move(fd)), pid_(pid), holders_(std::move(holders)),
      peer_held_(holders_.size(), 0), send_(std::move(send)) {}

AppLogRelay::~AppLogRelay() {
    if (fd_) loop_.remove(fd_.get());
}

size_t AppLogRelay::holders() const { return size_t(std::count(holders_.begin(), holders_.end(), true)); }

void AppLogRelay::on_events(uint32_t events) {
    if (events & EPOLLOUT) write_held();
    if (!fd_ || paused_ || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return update_interest();
    uint8_t buf[kChunk];
    // A few reads per wake-up: the loop serves the connections in between.
    for (int round = 0; round < 4 && fd_; ++round) {
        const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return close("the service closed its log (it ended)");
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            return close(fmt::format("recv: {}", std::strerror(errno)));
        }
        forward(std::span<const uint8_t>(buf, size_t(n)));
    }
    recompute_held();
    update_interest();
}

void AppLogRelay::forward(std::span<const uint8_t> bytes) {
    // To every live peer, holder or not: one that joined late learns from the first
    // offset it sees that it missed the start, and says so (APP_REFUSED).
    for (size_t i = 0; i < holders_.size(); ++i) send_(PeerId{uint16_t(i)}, AppLogRecord{received_, bytes});
    received_ += bytes.size();
}

void AppLogRelay::on_stable(PeerId peer, uint64_t offset) {
    if (peer.index() >= holders_.size() || !holders_[peer.index()]) return;
    peer_held_[peer.index()] = std::max(peer_held_[peer.index()], std::min(offset, received_));
    recompute_held();
}

void AppLogRelay::drop_peer(PeerId peer) {
    if (peer.index() >= holders_.size() || !holders_[peer.index()]) return;
    holders_[peer.index()] = false;
    if (holders() == 0) log_warn("service pid {}: no backup holds its log any more; its output is no longer held", pid_);
    recompute_held();
}

void AppLogRelay::peer_joined(PeerId peer) {
    if (peer.index() >= holders_.size()) {
        holders_.resize(peer.index() + 1, false);
        peer_held_.resize(peer.index() + 1, 0);
    }
    // From the first byte, or not at all: a replica that missed results cannot replay.
    holders_[peer.index()] = received_ == 0;
    peer_held_[peer.index()] = 0;
    if (received_ != 0)
        log_warn("service pid {}: a backup joined after {} byte(s) of its log; it cannot be in step", pid_, received_);
}

void AppLogRelay::pause_reading(bool paused) {
    if (paused_ == paused) return;
    paused_ = paused;
    update_interest();
}

void AppLogRelay::recompute_held() {
    uint64_t held = received_;
    for (size_t i = 0; i < holders_.size(); ++i)
        if (holders_[i]) held = std::min(held, peer_held_[i]);
    if (held <= held_) return;
    held_ = held;
    write_held();
}

void AppLogRelay::write_held() {
    if (!fd_) return;
    for (;;) {
        if (message_sent_ == sizeof message_) {
            if (told_ == held_) break;
            told_ = held_;
            for (int i = 0; i < 8; ++i) message_[i] = uint8_t(told_ >> (56 - 8 * i));
            message_sent_ = 0;
        }
        const ssize_t n = ::send(fd_.get(), message_ + message_sent_, sizeof message_ - message_sent_,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            return close(fmt::format("send: {}", std::strerror(errno)));
        }
        message_sent_ += size_t(n);
    }
    update_interest();
}

void AppLogRelay::update_interest() {
    if (!fd_) return;
    const uint32_t want = (paused_ ? 0u : uint32_t(EPOLLIN)) | (message_sent_ < sizeof message_ ? uint32_t(EPOLLOUT) : 0u);
    if (want == interest_) return;
    interest_ = want;
    (void)loop_.modify(fd_.get(), want);
}

void AppLogRelay::close(const std::string& why) {
    log_info("service pid {}: its log channel closed after {} byte(s): {}", pid_, received_, why);
    loop_.remove(fd_.get());
    fd_.reset();
}

}  // namespace tcpfo
