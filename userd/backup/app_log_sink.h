// The backup's end of the service's application log: it holds what the primary
// relays (APP_LOG), acknowledges it (APP_STABLE: held here, so a crash of the
// primary loses none of it), and writes it to the replica's library through the
// replica's tcpfo-run control connection, which replays the results in order. At
// takeover, once the last byte is written, it closes its side: the library reads to
// the end and then goes live (the replica is the service from there on).
//
// A backup that missed the start of the log (it joined late), or whose log would
// outgrow kMaxBuffered because no replica reads it, refuses it: its replica cannot be
// in step, so it protects none of the service's connections (BackupNode) and closes
// the replica's channel (its library goes live at once). So does a backup whose
// replica's library reports that its replay diverged ("diverged K" on the channel).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "userd/base/byte_queue.h"
#include "userd/base/event_loop.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

class AppLogSink {
public:
    static constexpr size_t kMaxBuffered = 64 << 20;

    // `on_refused` runs when the refusal comes from the replica's side (its library
    // reports that its replay diverged); refusals of a record are returned instead.
    AppLogSink(EventLoop& loop, std::function<void(AppRefuseReason)> on_refused)
        : loop_(loop), on_refused_(std::move(on_refused)) {}
    ~AppLogSink();

    // APP_LOG from the primary. Returns a refusal the first time the log cannot be
    // held (the caller sends APP_REFUSED and stops protecting the service).
    std::optional<AppRefuseReason> on_record(const AppLogRecord& record);
    // Every byte below this is held (for APP_STABLE); 0 while refused.
    uint64_t held() const { return refused_ ? 0 : received_; }
    bool refused() const { return refused_.has_value(); }
    std::optional<AppRefuseReason> refusal() const { return refused_; }
    bool started() const { return received_ > 0; }

    // The replica's tcpfo-run connection; false (with `why`) if one is attached already.
    bool attach(UniqueFd fd, int pid, std::string& why);
    bool attached() const { return bool(fd_); }
    int pid() const { return pid_; }
    uint64_t received() const { return received_; }
    uint64_t delivered() const { return received_ - pending_.size(); }

    // Takeover: after what is pending, end the log (the replica goes live).
    void finish();

private:
    void refuse(AppRefuseReason reason);
    void pump();
    void end_channel();
    void set_interest(uint32_t want);
    void on_events(uint32_t events);

    EventLoop& loop_;
    std::function<void(AppRefuseReason)> on_refused_;
    UniqueFd fd_;
    int pid_ = 0;
    ByteQueue pending_;           // received, not written to the replica yet
    uint64_t received_ = 0;
    std::optional<AppRefuseReason> refused_;
    bool finishing_ = false;
    uint32_t interest_ = 0;
};

}  // namespace tcpfo
