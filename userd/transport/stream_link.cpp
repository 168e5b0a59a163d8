#include "userd/transport/stream_link.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"

namespace tcpfo {

namespace {
// One read's most: the buffer is allocated once per link, and a burst touches all of it.
constexpr size_t kReadChunk = 64 * 1024;
// A queue drained after a burst (thousands of connections opening at once) gives its
// memory back above this; below, it keeps it for the next batch.
constexpr size_t kKeptQueueCapacity = 64 * 1024;
// Queued bytes at which send() writes without waiting for the batch's flush().
constexpr size_t kEarlyWriteBytes = 64 * 1024;
}

Result<void> StreamLink::start() {
    StreamLink* self = this;
    // The opening goes first; records wait in plain_ for the peer's (seal_pending()).
    if (self->auth_) self->auth_->append_open(self->out_.raw_tail());
    // The arrival time of what each read returns (TCP gives that of the newest
    // segment read); without it, liveness falls back to the time of reading.
    const int on = 1;
    (void)setsockopt(self->fd_.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    // Records are small and each one matters now: under Nagle a backup's STABLE waited
    // for the primary's delayed ACK of the one before (40 ms), and with it every reply
    // of a service behind the output gate. Also for accepted sockets, which do not get
    // it from connect_nonblocking. (A unix socket pair, in the unit tests, has no Nagle.)
    if (setsockopt(self->fd_.get(), kind_.nodelay_level, kind_.nodelay_option, &on, sizeof on) != 0 &&
        errno != EOPNOTSUPP)
        return sys_fail(errno, "{}: can't set {}", self->name_, kind_.nodelay_name);
    // Start with EPOLLOUT too: a connecting socket reports completion as writable.
    self->want_write_ = true;
    if (auto r = loop_.add(self->fd_.get(), EPOLLIN | EPOLLOUT, [self](uint32_t ev) { self->on_events(ev); }); !r)
        return std::unexpected(r.error());
    return {};
}

StreamLink::StreamLink(EventLoop& loop, UniqueFd fd, std::string name, Callbacks callbacks,
                       std::unique_ptr<StreamAuth> auth, const StreamSocketKind& kind)
    : loop_(loop), kind_(kind), fd_(std::move(fd)), name_(std::move(name)), callbacks_(std::move(callbacks)),
      auth_(std::move(auth)) {}

StreamLink::~StreamLink() { close(); }

void StreamLink::close() {
    if (!fd_) return;
    loop_.remove(fd_.get());
    fd_.reset();
}

void StreamLink::send(const Record& record) {
    if (!fd_) return;
    if (auth_) {
        encode_record(record, plain_);
        // One frame per write batch (a tag per record would cost more than the records
        // at 100,000 a second), or per kSealAtBytes in a long batch.
        if (plain_.size() >= kSealAtBytes) seal_pending();
    } else {
        encode_record(record, out_.raw_tail());
    }
    ++counters_.records_sent;
    // A long batch (thousands of connections opening at once) writes as it goes
    // rather than growing the queue by doubling until the batch ends: the copies it
    // left behind stayed resident (a few hundred bytes per connection at 9,000).
    // Errors are left for flush() to report: no callback may run from here.
    if (out_.size() >= kEarlyWriteBytes) (void)write_some();
    update_interest();
}

int StreamLink::write_some() {
    while (!out_.empty()) {
        const auto data = out_.front();
        const ssize_t n = ::send(fd_.get(), data.data(), std::min(data.size(), kind_.max_write), MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : errno;
        out_.pop_front(size_t(n));
        counters_.bytes_sent += uint64_t(n);
    }
    return 0;
}

void StreamLink::update_interest() {
    const bool want = !out_.empty();
    if (want == want_write_ || !fd_) return;
    want_write_ = want;
    (void)loop_.modify(fd_.get(), EPOLLIN | (want ? uint32_t(EPOLLOUT) : 0u));
}

void StreamLink::fail_link(const std::string& why) {
    close();
    auto on_closed = callbacks_.on_closed;  // the owner may destroy *this inside
    if (on_closed) on_closed(why);
}

void StreamLink::seal_pending() {
    if (!auth_ || !auth_->ready() || plain_.empty()) return;
    auth_->seal(plain_, out_.raw_tail(), monotonic_ms());
    plain_.clear();
}

void StreamLink::fail_auth(const AuthError& error) {
    if (callbacks_.on_auth_drop) callbacks_.on_auth_drop(error);
    fail_link(fmt::format("{}: {}", auth_drop_text(error.kind), error.message));
}

void StreamLink::flush() {
    if (!fd_) return;
    seal_pending();
    if (const int err = write_some(); err != 0) return fail_link(fmt::format("send failed: {}", std::strerror(err)));
    if (out_.capacity() > kKeptQueueCapacity) out_.release_if_empty();
    if (in_.capacity() > kKeptQueueCapacity) in_.release_if_empty();
    if (plain_.empty() && plain_.capacity() > kKeptQueueCapacity) plain_.shrink_to_fit();
    update_interest();
}

void StreamLink::on_events(uint32_t events) {
    if (events & (EPOLLERR)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        return fail_link(fmt::format("socket error: {}", std::strerror(err ? err : EIO)));
    }
    if (events & EPOLLOUT) {
        flush();
        if (!fd_) return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP))) return;
    if (!read_buf_) read_buf_ = std::make_unique_for_overwrite<uint8_t[]>(kReadChunk);
    iovec iov{read_buf_.get(), kReadChunk};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_.get(), &msg, 0);
    if (n > 0) note_arrival(msg);
    if (n == 0) return fail_link("peer closed the connection");
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        return fail_link(fmt::format("recv failed: {}", std::strerror(errno)));
    }
    const std::span<const uint8_t> fresh(read_buf_.get(), size_t(n));
    if (in_.empty()) {
        // The common case: records straight from the read buffer, only a partial
        // last one is kept.
        const auto used = consume(fresh);
        if (used && *used < fresh.size()) in_.append(fresh.subspan(*used));
        return;
    }
    in_.append(fresh);
    if (const auto used = consume(in_.front())) in_.pop_front(*used);
}

void StreamLink::note_arrival(const msghdr& msg) {
    for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec arrived{};
        std::memcpy(&arrived, CMSG_DATA(c), sizeof arrived);
        // The stamp is wall-clock time; liveness counts in monotonic time.
        const uint64_t arrived_real_ms = uint64_t(arrived.tv_sec) * 1000 + uint64_t(arrived.tv_nsec) / 1000000;
        const uint64_t now_real_ms = realtime_us() / 1000, now_ms = monotonic_ms();
        const uint64_t age_ms = now_real_ms > arrived_real_ms ? now_real_ms - arrived_real_ms : 0;
        last_arrival_ms_ = std::max(last_arrival_ms_, now_ms > age_ms ? now_ms - age_ms : 0);
        return;
    }
    // No stamp (the kernel turns stamping on asynchronously, so the first segments
    // after a first SO_TIMESTAMPNS may come without): the time of reading.
    last_arrival_ms_ = monotonic_ms();
}

std::optional<size_t> StreamLink::deliver(std::span<const uint8_t> bytes) {
    size_t used = 0;
    while (fd_) {
        auto decoded = decode_record(bytes.subspan(used));
        if (!decoded) {
            fail_link("corrupt record: " + decoded.error().message);
            return std::nullopt;
        }
        if (!decoded->has_value()) return used;
        const size_t size = (*decoded)->size;
        ++counters_.records_received;
        counters_.bytes_received += size;
        callbacks_.on_record((*decoded)->record);
        used += size;
    }
    return std::nullopt;
}

}  // namespace tcpfo

namespace tcpfo {

std::optional<size_t> StreamLink::deliver_authenticated(std::span<const uint8_t> bytes) {
    size_t used = 0;
    if (!auth_->ready()) {
        auto taken = auth_->take_open(bytes);
        if (!taken) {
            fail_auth(taken.error());
            return std::nullopt;
        }
        if (!taken->has_value()) return used;
        used = **taken;
        // What was queued for the session leaves now (EPOLLOUT writes it).
        seal_pending();
        update_interest();
    }
    const uint64_t now = monotonic_ms();
    while (fd_) {
        auto opened = auth_->open(bytes.subspan(used), now);
        if (!opened) {
            fail_auth(opened.error());
            return std::nullopt;
        }
        if (!opened->has_value()) return used;
        // Verified as a whole: its records may be acted on.
        const std::span<const uint8_t> payload = (**opened).payload;
        size_t offset = 0;
        while (offset < payload.size()) {
            auto decoded = decode_record(payload.subspan(offset));
            if (!decoded || !decoded->has_value()) {
                // The peer holds the key: a bug or a version mismatch, not an attack.
                fail_link("corrupt record in an authenticated frame: " +
                          (decoded ? std::string("the frame ends inside a record") : decoded.error().message));
                return std::nullopt;
            }
            ++counters_.records_received;
            counters_.bytes_received += (*decoded)->size;
            callbacks_.on_record((*decoded)->record);
            if (!fd_) return std::nullopt;
            offset += (*decoded)->size;
        }
        used += (**opened).size;
    }
    return std::nullopt;
}

}  // namespace tcpfo
