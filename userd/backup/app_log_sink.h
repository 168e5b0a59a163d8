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
//
// Feeder names (docs/protocol.md, "Feeder names"): the sink follows the entries of the
// log it passes on (8-byte headers, replay/preload/app_log.h) and writes only whole
// entries. At each boundary between two entries it inserts a feeder-name entry
// (kind 8) for every connection whose feeder (the backup's connection to the replica,
// ReplicaFeed) was opened since, and it holds back an accept entry (kind 7, ret >= 0)
// until that client's name went out before it: the replica's library then always
// knows which incoming connection carries the recorded client. An accept held longer
// than kAcceptHoldMs, or for a client this backup refused, means the replica can never
// be in step: the sink refuses the log (input missing). Feeder names are not log
// bytes: received(), held() and delivered() never count them.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "replay/preload/app_log.h"
#include "userd/base/byte_queue.h"
#include "userd/base/event_loop.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

class AppLogSink {
public:
    static constexpr size_t kMaxBuffered = 64 << 20;
    // An accept entry waits at most this long for its client's feeder name.
    static constexpr uint64_t kAcceptHoldMs = 3000;
    // Names of connections that closed are kept (sent or not: their accept may still
    // be on its way in the log) for the most recent this many; the names of live
    // connections are bounded by the backup's connections (one per live feeder).
    static constexpr size_t kMaxClosedNames = 1024;
    // Clients this backup refused (their accept can never be fed), the most recent.
    static constexpr size_t kMaxRefusedClients = 1024;

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

    // Takeover: after the last whole entry it may pass on, end the log (the replica
    // goes live). An entry cut off by the primary's crash, and an accept still held,
    // are not written.
    void finish();

    // A connection's feeder is open: its name goes to the replica at the next entry
    // boundary (kept until the replica's channel attaches). Address and ports are
    // host-order values, as in the entry.
    void name_feeder(const FeederNameEntry& name);
    // The connection is closed (CLOSE, or its feed broke): its name becomes one of the
    // kMaxClosedNames kept for an accept still to come.
    void feeder_closed(uint32_t client_addr, uint16_t client_port);
    // This backup refused the client's connection: an accept of it can never be fed,
    // so reaching one refuses the log.
    void client_refused(uint32_t client_addr, uint16_t client_port);
    // The backup's connection to the replica for this client failed before it was
    // accepted (refused: the replica not listening, its queue full). Its name may be
    // in the replica's log already, and the replica would wait for that connection
    // for ever: the log is refused if the name went out, else the name is dropped and
    // the client counts as refused.
    void feeder_failed(uint32_t client_addr, uint16_t client_port);
    // Refuses the log (input missing) when an accept has been held longer than
    // kAcceptHoldMs at `now_ms` (monotonic); called by the node's periodic tick.
    void tick(uint64_t now_ms);

    uint64_t names_sent() const { return names_sent_; }
    size_t names_waiting() const { return queued_names_.size(); }
    // The client whose accept is held (host-order address and port), if one is.
    std::optional<std::pair<uint32_t, uint16_t>> held_accept() const;

private:
    void refuse(AppRefuseReason reason);
    void pump();
    // At an entry boundary: how many bytes the next entry has, once all of them are
    // here and it may go (0: wait; the log may be refused on the way).
    size_t next_entry_size();
    void refuse_from_here(AppRefuseReason reason);
    void end_channel();
    void set_interest(uint32_t want);
    void on_events(uint32_t events);

    EventLoop& loop_;
    std::function<void(AppRefuseReason)> on_refused_;
    UniqueFd fd_;
    int pid_ = 0;
    ByteQueue pending_;           // received, not written to the replica yet (log bytes only)
    uint64_t received_ = 0;
    // Bytes of the current entry (or feeder name) written partly: the rest goes before
    // anything else. In log bytes from pending_, or in name bytes from name_out_.
    size_t entry_left_ = 0;
    std::vector<uint8_t> name_out_;
    size_t name_out_pos_ = 0;
    // Names not written yet, in order; then, per client, names written and not yet
    // matched by an accept that passed.
    std::deque<FeederNameEntry> queued_names_;
    std::unordered_map<uint64_t, uint32_t> sent_names_;
    std::deque<uint64_t> closed_;    // clients whose connection closed, oldest first
    std::deque<uint64_t> refused_clients_;
    uint64_t names_sent_ = 0;
    std::optional<uint64_t> holding_client_;
    uint64_t holding_since_ms_ = 0;
    bool corrupt_ = false;  // the log's entries could not be followed: passed on as they are
    std::optional<AppRefuseReason> refused_;
    bool finishing_ = false;
    uint32_t interest_ = 0;
};

}  // namespace tcpfo
