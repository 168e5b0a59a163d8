#include "replay/connection_splice.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "userd/base/log.h"

namespace tcpfo {

namespace {
// Bytes moved per direction per wake-up (read and written alike), so that one
// connection with a big backlog cannot hold the loop while the others wait: at
// takeover every connection's first flight must leave in the first pass. Without a
// cap on writes, the first pass after a takeover of 100 busy connections pushed up to
// 2 MiB into each rebuilt socket (its send buffer grows as the client acknowledges):
// ~90 MB, 100-450 ms of copying before the last connection's first byte left. The
// initial congestion window is ~14 KB; more queued at once only waits in the kernel.
// Epoll is level-triggered: the rest comes next round.
constexpr size_t kBytesPerWakeup = 64 * 1024;
// What open() sends toward the client before the loop takes over (see there).
constexpr size_t kFirstFlightBytes = 4 * 1024;
}

Result<std::unique_ptr<ConnectionSplice>> ConnectionSplice::open(EventLoop& loop, Start start,
                                                                 std::function<void()> on_done) {
    std::unique_ptr<ConnectionSplice> s(new ConnectionSplice(loop, std::move(start), std::move(on_done)));
    ConnectionSplice* self = s.get();
    auto on_client = [self](uint32_t events) { self->on_event(self->to_replica_, self->to_client_, events); };
    auto on_replica = [self](uint32_t events) { self->on_event(self->to_client_, self->to_replica_, events); };
    // Watched with their final interest at once, and nothing read yet: epoll reports
    // what is waiting (level-triggered). At takeover this runs for every connection,
    // so each syscall saved here counts: the client socket is added, the replica
    // socket keeps the registration its feed had (usually with the same interest).
    // On failure the destructor stops watching both.
    self->client_interest_ = self->client_interest();
    self->replica_interest_ = self->replica_interest();
    if (auto r = loop.rebind(self->replica_.get(), self->replica_interest_, on_replica); !r)
        return std::unexpected(r.error());
    if (auto r = loop.add(self->client_.get(), self->client_interest_, on_client); !r)
        return std::unexpected(r.error());
    // Only what is known already: the unacknowledged output, FINs already seen; and of
    // the output only a first flight. At takeover this runs for every connection in
    // turn, and each byte sent costs its trip through both stacks right here (on one
    // host, the client's receive too): 64 KiB each made the 100th client of a test
    // wait 34 ms for its first byte. The rest goes from the loop, round robin.
    size_t to_client_budget = kFirstFlightBytes, to_replica_budget = kBytesPerWakeup;
    if (!self->push(self->to_client_, to_client_budget) || !self->push(self->to_replica_, to_replica_budget)) {
        self->finish("error");
    } else if (self->to_client_.shut && self->to_replica_.shut) {
        self->finish("closed both ways");
    } else {
        self->update_interest();
    }
    return s;
}

ConnectionSplice::ConnectionSplice(EventLoop& loop, Start start, std::function<void()> on_done)
    : loop_(loop), conn_id_(start.conn_id), key_(start.key), client_(std::move(start.client)),
      replica_(std::move(start.replica)), on_done_(std::move(on_done)),
      on_first_output_(std::move(start.on_first_output)), check_(std::move(start.check)),
      sent_offset_(start.unacked_offset), replica_offset_(start.replica_offset),
      on_diverged_(std::move(start.on_diverged)) {
    if (check_ && check_->idle()) check_.reset();
    if (check_) opened_ms_ = monotonic_ms();
    to_client_.from = replica_.get();
    to_client_.to = client_.get();
    to_client_.buffer = std::move(start.unacked);
    to_client_.eof = start.replica_output_ended;
    // The replica lags the dead primary: what it writes first the client has
    // already acknowledged.
    to_client_.skip = start.skip_replica_bytes;
    to_replica_.from = client_.get();
    to_replica_.to = replica_.get();
    // The replica already got the client's FIN from the log; nothing more comes.
    to_replica_.eof = start.client_input_ended;
    to_replica_.shut = start.client_input_ended;
    // What the log still held for a replica that lagged goes first; a FIN logged after
    // it ends the input once it is written (push), and nothing is read from the client.
    to_replica_.buffer = std::move(start.unfed_input);
    if (start.client_fin_unfed) to_replica_.eof = true;
}

ConnectionSplice::~ConnectionSplice() {
    if (client_) loop_.remove(client_.get());
    if (replica_) loop_.remove(replica_.get());
}

size_t ConnectionSplice::sendable_to_client() const {
    const size_t buffered = to_client_.buffer.size();
    if (!check_) return buffered;
    const uint64_t limit = check_->first_unchecked();
    return limit <= sent_offset_ ? 0 : size_t(std::min<uint64_t>(buffered, limit - sent_offset_));
}

bool ConnectionSplice::awaiting_check() const {
    return check_ && check_->first_unchecked() < sent_offset_ + to_client_.buffer.size();
}

bool ConnectionSplice::push(Direction& d, size_t& budget) {
    const bool toward_client = &d == &to_client_;
    while (!d.buffer.empty() && budget > 0) {
        const auto data = d.buffer.front();
        const size_t may = toward_client ? sendable_to_client() : data.size();
        if (may == 0) return true;  // the rest waits for the replica to match a digest
        const ssize_t n = ::send(d.to, data.data(), std::min({data.size(), budget, may}), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            log_warn("{}: send failed: {}", name(), std::strerror(errno));
            return false;
        }
        d.buffer.pop_front(size_t(n));
        budget -= std::min(budget, size_t(n));
        if (toward_client) sent_offset_ += uint64_t(n);
        if (n > 0 && toward_client && on_first_output_) std::exchange(on_first_output_, nullptr)();
    }
    // The FIN only after the last byte: the budget may have run out before it.
    if (d.eof && !d.shut && d.buffer.empty()) {
        ::shutdown(d.to, SHUT_WR);
        d.shut = true;
    }
    return true;
}

bool ConnectionSplice::observe_replica_output(std::span<const uint8_t> bytes) {
    check_->observe(replica_offset_, bytes);
    replica_offset_ += bytes.size();
    if (to_client_.eof) check_->replica_ended(replica_offset_);
    if (auto at = check_->diverged_at()) {
        reset_diverged(*at);
        return false;
    }
    if (check_->idle()) check_.reset();  // every digest matched: nothing more comes after a takeover
    return true;
}

bool ConnectionSplice::move(Direction& d) {
    uint8_t buf[kBytesPerWakeup];
    const bool toward_client = &d == &to_client_;
    // One budget for what this wake-up writes and reads in this direction.
    size_t budget = kBytesPerWakeup;
    size_t read_budget = kBytesPerWakeup;
    bool drained = false;  // a read came back short: nothing more is queued
    for (;;) {
        if (!push(d, budget)) return false;
        if (drained) return true;
        // Blocked or out of budget, or nothing more to read; unless what is buffered
        // waits for bytes a digest still needs.
        if (d.eof || (!d.buffer.empty() && !(toward_client && awaiting_check()))) return true;
        // Output the client already has is dropped outside the budget: TCP discards
        // it with MSG_TRUNC without copying it out (other sockets copy it into buf);
        // while digests are pending it is read, to be checked.
        const bool skipping = d.skip > 0;
        const bool checking = toward_client && check_;
        if (!skipping && read_budget == 0) return true;
        const size_t want = skipping ? size_t(std::min<uint64_t>(d.skip, sizeof buf)) : read_budget;
        const ssize_t n = ::recv(d.from, buf, want, skipping && !checking ? MSG_TRUNC : 0);
        if (n == 0) {
            d.eof = true;
            if (checking && !observe_replica_output({})) return false;
            continue;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return true;
            log_warn("{}: recv failed: {}", name(), std::strerror(errno));
            return false;
        }
        // TCP's recv returns all that is queued up to `want`: a short read emptied the
        // socket, and asking again would only find EAGAIN (what arrives meanwhile
        // wakes the loop again).
        drained = size_t(n) < want;
        if (checking && !observe_replica_output(std::span<const uint8_t>(buf, size_t(n)))) return false;
        if (skipping) {
            d.skip -= std::min<uint64_t>(d.skip, uint64_t(n));
            if (toward_client) sent_offset_ += uint64_t(n);  // the buffer is empty while skipping
            continue;
        }
        d.buffer.append(std::span<const uint8_t>(buf, size_t(n)));
        read_budget -= std::min(read_budget, size_t(n));
    }
}

void ConnectionSplice::expire_check(uint64_t now_ms, uint64_t limit_ms) {
    if (done_ || !check_ || now_ms - opened_ms_ < limit_ms) return;
    log_error("{}: the replica has not written what the dead primary sent from server offset {} on, {} s after "
              "the takeover", name(), check_->first_unchecked(), limit_ms / 1000);
    reset_diverged(check_->first_unchecked());
}

void ConnectionSplice::reset_diverged(uint64_t at) {
    // The client has bytes the replica did not write: nothing the replica says can
    // follow them. A RST from the rebuilt socket itself (its sequence is where the
    // client is), and the replica's connection closed.
    const linger abort_on_close{1, 0};
    ::setsockopt(client_.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    log_error("{}: the replica's output differs from the dead primary's from server offset {} on; reset toward "
              "the client", name(), at);
    if (on_diverged_) on_diverged_(at);
    finish("replica diverged");
    client_.reset();  // finish() stopped watching it; closing it sends the RST
}

// Only the directions this socket's events concern: at takeover the loop serves
// every connection in turn, and a read that finds nothing costs a syscall (two of
// three reads after a takeover of 100 busy connections came back empty). Epoll is
// level-triggered and the interest covers every pending condition, so a direction
// not moved now is reported again.
void ConnectionSplice::on_event(Direction& reading, Direction& writing, uint32_t events) {
    if (done_) return;
    const bool writable = events & (EPOLLOUT | EPOLLHUP | EPOLLERR);
    const bool readable = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
    if ((writable && !move(writing)) || (readable && !move(reading))) {
        if (!done_) finish("error");
        return;
    }
    if (to_client_.shut && to_replica_.shut) return finish("closed both ways");
    update_interest();
}

// Watch the read side while it can still deliver and there is room for what it
// reads (while the replica's socket is full the client's input waits in the
// client's socket: level-triggered, an unread readable socket would wake the loop
// again at once), the write side while bytes wait.
uint32_t ConnectionSplice::client_interest() const {
    const bool wants_input = !to_replica_.eof && to_replica_.buffer.empty();
    return (wants_input ? uint32_t(EPOLLIN) : 0u) | (sendable_to_client() == 0 ? 0u : uint32_t(EPOLLOUT));
}

// The replica's output is read while there is room for it: while the client's
// socket is full it waits in the replica's socket (level-triggered, a readable
// replica we did not read would wake the loop again at once), except for bytes a
// pending digest needs.
uint32_t ConnectionSplice::replica_interest() const {
    const bool wants_output = !to_client_.eof && (to_client_.buffer.empty() || awaiting_check());
    return (wants_output ? uint32_t(EPOLLIN) : 0u) | (to_replica_.buffer.empty() ? 0u : uint32_t(EPOLLOUT));
}

void ConnectionSplice::update_interest() {
    const uint32_t client = client_interest(), replica = replica_interest();
    if (client != client_interest_) { client_interest_ = client; (void)loop_.modify(client_.get(), client); }
    if (replica != replica_interest_) { replica_interest_ = replica; (void)loop_.modify(replica_.get(), replica); }
}

void ConnectionSplice::finish(const std::string& why) {
    done_ = true;
    log_info("{}: splice finished ({})", name(), why);
    loop_.remove(client_.get());
    loop_.remove(replica_.get());
    auto on_done = on_done_;
    if (on_done) on_done();
}

}  // namespace tcpfo
