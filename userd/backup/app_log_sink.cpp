#include "userd/backup/app_log_sink.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "userd/base/log.h"

namespace tcpfo {

AppLogSink::~AppLogSink() {
    if (fd_) loop_.remove(fd_.get());
}

std::optional<AppRefuseReason> AppLogSink::on_record(const AppLogRecord& record) {
    if (refused_) return std::nullopt;  // said once already
    if (record.offset != received_) {
        // Only the first record can start elsewhere (the stream is ordered): this
        // backup joined after the service had recorded results its replica missed.
        refuse(AppRefuseReason::joined_late);
        return refused_;
    }
    if (pending_.size() + record.bytes.size() > kMaxBuffered) {
        refuse(AppRefuseReason::overflow);
        return refused_;
    }
    pending_.append(record.bytes);
    received_ += record.bytes.size();
    pump();
    return std::nullopt;
}

void AppLogSink::refuse(AppRefuseReason reason) {
    refused_ = reason;
    log_error("service: {}; this backup protects none of its connections", app_refuse_reason_text(reason));
    pending_ = ByteQueue{};
    end_channel();
}

bool AppLogSink::attach(UniqueFd fd, int pid, std::string& why) {
    if (fd_ || pid_ != 0) {
        why = fmt::format("a service (pid {}) already replays its log under this failoverd", pid_);
        return false;
    }
    fd_ = std::move(fd);
    pid_ = pid;
    if (auto r = loop_.add(fd_.get(), EPOLLIN, [this](uint32_t events) { on_events(events); }); !r) {
        why = r.error().message;
        fd_.reset();
        return false;
    }
    interest_ = EPOLLIN;
    log_info("service pid {}: replaying the primary's log ({} byte(s) so far)", pid, received_);
    if (refused_) end_channel();
    else pump();
    return true;
}

void AppLogSink::on_events(uint32_t events) {
    if (events & EPOLLIN) {
        // The replica's library writes only to say its replay diverged.
        char notice[64];
        const ssize_t n = ::recv(fd_.get(), notice, sizeof notice - 1, MSG_DONTWAIT);
        if (n > 0) {
            notice[n] = '\0';
            if (char* newline = std::strchr(notice, '\n')) *newline = '\0';
            log_error("service pid {}: the replica says '{}': its replay left the primary's log", pid_, notice);
            if (!refused_) {
                refuse(AppRefuseReason::replica_diverged);
                if (on_refused_) on_refused_(AppRefuseReason::replica_diverged);
            }
            return;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) events |= EPOLLHUP;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        log_warn("service pid {}: its log channel closed (the replica ended?)", pid_);
        loop_.remove(fd_.get());
        fd_.reset();
        return;
    }
    pump();
}

void AppLogSink::finish() {
    finishing_ = true;
    pump();
}

void AppLogSink::pump() {
    if (!fd_) return;
    while (!pending_.empty()) {
        const auto data = pending_.front();
        const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return set_interest(EPOLLOUT);
            log_warn("service pid {}: writing its log failed: {}", pid_, std::strerror(errno));
            loop_.remove(fd_.get());
            fd_.reset();
            return;
        }
        pending_.pop_front(size_t(n));
    }
    (void)pending_.release_if_empty();
    set_interest(EPOLLIN);
    if (finishing_) end_channel();
}

void AppLogSink::end_channel() {
    if (!fd_) return;
    // EOF, not a close: the replica's library reads what is in the socket to the end.
    ::shutdown(fd_.get(), SHUT_WR);
    log_info("service pid {}: log ended at byte {}; the replica goes live after it", pid_, delivered());
    loop_.remove(fd_.get());
    fd_.reset();
}

void AppLogSink::set_interest(uint32_t want) {
    if (want == interest_ || !fd_) return;
    interest_ = want;
    (void)loop_.modify(fd_.get(), want);
}

}  // namespace tcpfo
