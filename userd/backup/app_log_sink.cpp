#include "userd/backup/app_log_sink.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"

namespace tcpfo {

namespace {

// One client, as accept entries and feeder names name it (host-order values).
uint64_t client_key(uint32_t addr, uint16_t port) { return uint64_t(addr) << 16 | port; }

std::string client_text(uint64_t key) {
    return fmt::format("client {}:{}", addr_to_string(htonl(uint32_t(key >> 16))), uint16_t(key));
}

}  // namespace

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
    // Only the rest of an entry (or a name) written in part still goes, so that the
    // channel ends between two entries: the replica's library then goes live rather
    // than stop on a cut entry (exit 86). A replica that diverged is live already and
    // reads no more.
    ByteQueue rest;
    if (entry_left_ > 0 && reason != AppRefuseReason::replica_diverged) rest.append(pending_.front().first(entry_left_));
    pending_ = std::move(rest);
    if (reason == AppRefuseReason::replica_diverged) {
        entry_left_ = 0;
        name_out_.clear();
        name_out_pos_ = 0;
    }
    queued_names_.clear();
    sent_names_.clear();
    closed_.clear();
    refused_clients_.clear();
    holding_client_.reset();
    finishing_ = true;
    if (pending_.empty() && name_out_pos_ == name_out_.size()) end_channel();
    else pump();
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

void AppLogSink::name_feeder(const FeederNameEntry& name) {
    if (refused_) return;
    // A new connection of a client refused before (same address and port) is fed.
    std::erase(refused_clients_, client_key(name.client_addr, name.client_port));
    queued_names_.push_back(name);
    pump();
}

void AppLogSink::feeder_closed(uint32_t client_addr, uint16_t client_port) {
    if (refused_) return;
    closed_.push_back(client_key(client_addr, client_port));
    if (closed_.size() <= kMaxClosedNames) return;
    // The oldest closed connection's name goes: unsent, or sent and unmatched. Should
    // its accept still come, it is held and refused (input missing), never passed.
    const uint64_t oldest = closed_.front();
    closed_.pop_front();
    auto queued = std::find_if(queued_names_.begin(), queued_names_.end(), [&](const FeederNameEntry& n) {
        return client_key(n.client_addr, n.client_port) == oldest;
    });
    if (queued != queued_names_.end()) {
        queued_names_.erase(queued);
    } else if (auto it = sent_names_.find(oldest); it != sent_names_.end() && --it->second == 0) {
        sent_names_.erase(it);
    }
}

void AppLogSink::client_refused(uint32_t client_addr, uint16_t client_port) {
    if (refused_) return;
    const uint64_t key = client_key(client_addr, client_port);
    refused_clients_.push_back(key);
    if (refused_clients_.size() > kMaxRefusedClients) refused_clients_.pop_front();
    if (holding_client_ == key) {
        log_error("service pid {}: its log holds an accept of {}, whose connection this backup refused", pid_,
                  client_text(key));
        refuse_from_here(AppRefuseReason::input_missing);
    }
}

void AppLogSink::feeder_failed(uint32_t client_addr, uint16_t client_port) {
    if (refused_) return;
    const uint64_t key = client_key(client_addr, client_port);
    auto queued = std::find_if(queued_names_.begin(), queued_names_.end(), [&](const FeederNameEntry& n) {
        return client_key(n.client_addr, n.client_port) == key;
    });
    if (queued == queued_names_.end()) {
        log_error("service pid {}: the replica never got the connection of {}, whose name it was given", pid_,
                  client_text(key));
        refuse_from_here(AppRefuseReason::input_missing);
        return;
    }
    queued_names_.erase(queued);
    client_refused(client_addr, client_port);
}

void AppLogSink::tick(uint64_t now_ms) {
    if (refused_ || !holding_client_ || !fd_ || now_ms < holding_since_ms_ + kAcceptHoldMs) return;
    log_error("service pid {}: its log's accept of {} waited {} ms for that client's connection, which this backup "
              "does not hold",
              pid_, client_text(*holding_client_), now_ms - holding_since_ms_);
    refuse_from_here(AppRefuseReason::input_missing);
}

std::optional<std::pair<uint32_t, uint16_t>> AppLogSink::held_accept() const {
    if (!holding_client_) return std::nullopt;
    return std::pair{uint32_t(*holding_client_ >> 16), uint16_t(*holding_client_)};
}

void AppLogSink::refuse_from_here(AppRefuseReason reason) {
    if (refused_) return;
    refuse(reason);
    if (on_refused_) on_refused_(reason);
}

size_t AppLogSink::next_entry_size() {
    const auto data = pending_.front();
    if (corrupt_) return data.size();
    if (data.size() < kAppLogHeaderSize) return 0;
    std::array<uint8_t, kAppLogHeaderSize> header;
    std::copy_n(data.begin(), kAppLogHeaderSize, header.begin());
    auto corrupt = [&](const std::string& why) {
        // The replica's library stops on it (exit 86) and says so; what the sink can
        // do is pass the log on as it came, without names from here on.
        log_error("service pid {}: the primary's log is corrupt at byte {} ({}); passed on as it is, without feeder "
                  "names",
                  pid_, delivered(), why);
        corrupt_ = true;
        return data.size();
    };
    auto length = app_log_payload_length(header);
    if (!length) return corrupt(length.error().message);
    const size_t size = kAppLogHeaderSize + *length;
    if (data.size() < size) return 0;  // only whole entries go out
    if (header[0] != uint8_t(AppLogKind::accept)) return size;
    auto decoded = decode_app_log_entry(data.first(size));
    if (!decoded) return corrupt(decoded.error().message);
    if (!*decoded) return corrupt("an accept entry shorter than its header says");
    const auto& accepted = std::get<AcceptEntry>((*decoded)->entry);
    // A failed accept, or one of a socket that is not IPv4, names no client to feed.
    if (accepted.ret < 0 || (accepted.client_addr == 0 && accepted.client_port == 0)) return size;
    const uint64_t key = client_key(accepted.client_addr, accepted.client_port);
    if (std::find(refused_clients_.begin(), refused_clients_.end(), key) != refused_clients_.end()) {
        log_error("service pid {}: its log holds an accept of {}, whose connection this backup refused", pid_,
                  client_text(key));
        refuse_from_here(AppRefuseReason::input_missing);
        return 0;
    }
    auto named = sent_names_.find(key);
    if (named == sent_names_.end()) {
        if (holding_client_ != key) {
            holding_client_ = key;
            holding_since_ms_ = monotonic_ms();
        }
        return 0;  // until its name went out
    }
    if (--named->second == 0) sent_names_.erase(named);
    if (auto c = std::find(closed_.begin(), closed_.end(), key); c != closed_.end()) closed_.erase(c);
    holding_client_.reset();
    return size;
}

void AppLogSink::pump() {
    if (!fd_) return;
    for (;;) {
        // A feeder name partly written goes on first.
        if (name_out_pos_ < name_out_.size()) {
            const ssize_t n = ::send(fd_.get(), name_out_.data() + name_out_pos_, name_out_.size() - name_out_pos_,
                                     MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) return set_interest(EPOLLIN | EPOLLOUT);
                log_warn("service pid {}: writing its log failed: {}", pid_, std::strerror(errno));
                loop_.remove(fd_.get());
                fd_.reset();
                return;
            }
            name_out_pos_ += size_t(n);
            if (name_out_pos_ < name_out_.size()) continue;
            name_out_.clear();
            name_out_pos_ = 0;
        }
        if (entry_left_ == 0) {
            // Between two entries: the names of the feeders opened since, then the
            // next entry once it is whole (and, for an accept, once its client's name
            // went out).
            if (!queued_names_.empty() && !corrupt_) {
                for (const FeederNameEntry& name : queued_names_) {
                    encode_app_log_entry(name, name_out_);
                    ++sent_names_[client_key(name.client_addr, name.client_port)];
                }
                names_sent_ += queued_names_.size();
                queued_names_.clear();
                continue;
            }
            if (pending_.empty()) break;
            const size_t size = next_entry_size();
            if (refused_ || !fd_) return;
            if (size == 0) break;
            entry_left_ = size;
        }
        const auto data = pending_.front().first(entry_left_);
        const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return set_interest(EPOLLIN | EPOLLOUT);
            log_warn("service pid {}: writing its log failed: {}", pid_, std::strerror(errno));
            loop_.remove(fd_.get());
            fd_.reset();
            return;
        }
        pending_.pop_front(size_t(n));
        entry_left_ -= size_t(n);
    }
    (void)pending_.release_if_empty();
    set_interest(EPOLLIN);
    if (finishing_) {
        if (holding_client_)
            log_warn("service pid {}: the log ends before its accept of {}, whose connection this backup does not "
                     "hold",
                     pid_, client_text(*holding_client_));
        else if (!pending_.empty())
            log_warn("service pid {}: the log ends before an entry the primary did not finish sending ({} byte(s))",
                     pid_, pending_.size());
        end_channel();
    }
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
