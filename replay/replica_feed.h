// The proxy feeder: one connection to the local replica per protected connection.
// It writes the client's logged bytes to the replica in order and keeps the
// replica's output until the client has acknowledged it (ReplicaOutput).
#pragma once

#include <netinet/in.h>

#include <memory>
#include <optional>
#include <string>

#include "userd/base/event_loop.h"
#include "userd/backup/input_log.h"
#include "userd/protocol/conn_key.h"
#include "userd/protocol/record_codec.h"
#include "replay/replica_output.h"
#include "userd/takeover/tcp_repair.h"

namespace tcpfo {

struct FeedLimits {
    size_t pending_input = 8 << 20;  // logged, not yet written to the replica
    size_t reorder = 1 << 20;        // held above a gap
    // Replica output read ahead of the client's acknowledgement: at most the client's
    // advertised window (ReplicaOutput), and never more than this. More bought nothing
    // (output beyond waits in the replica's socket; the splice reads it at takeover)
    // and cost the backup growing and faulting in megabyte buffers for 100 connections
    // at once, about a second of CPU at the start of failover_many.
    size_t output = 256 << 10;
};

class ReplicaFeed {
public:
    static Result<std::unique_ptr<ReplicaFeed>> open(EventLoop& loop, const sockaddr_in& replica,
                                                     const ConnOpenRecord& conn, const FeedLimits& limits);
    ~ReplicaFeed();

    const ConnOpenRecord& conn() const { return conn_; }
    // "conn 7 192.0.2.1:40000", formatted when asked (log lines): not kept per connection.
    std::string name() const { return conn_label(conn_); }
    InputLog& log() { return log_; }
    const InputLog& log() const { return log_; }
    ReplicaOutput& output() { return output_; }
    const ReplicaOutput& output() const { return output_; }
    bool broken() const { return broken_; }
    // Whether its connect to the replica ever completed.
    bool connected() const { return connected_; }
    // The feeder's own port, as the replica sees the connection come from (bound at
    // connect(), read with getsockname): its name on the application log channel.
    uint16_t local_port() const { return local_port_; }
    ClientView client;
    uint64_t stable_sent = 0;            // the stable offset last acknowledged to the primary
    uint64_t last_input_ms = 0;          // when the client's bytes last reached the log (monotonic)

    // The client acknowledged server bytes and advertised a window (CLIENT_ACK): trims
    // the kept output, and lets it read ahead as far as that window reaches.
    void client_acknowledged(const ClientAckRecord& ack, uint64_t now_ms);
    // A digest of what the primary's server sent (OUTPUT_DIGEST): checked against
    // the replica's output (OutputCheck); a divergence is logged once.
    void expect_digest(const OutputDigestRecord& span);
    // SERVER_FIN: the primary's output ended there; the replica's must too.
    void primary_output_ended(uint64_t fin_offset);

    // COMMIT: every backup holding this connection holds the client's bytes below
    // `offset`; the replica is fed no further (so that no replica is given what the
    // backup elected after a crash could lack). A takeover feeds everything the log
    // holds: commit_everything().
    void set_committed(uint64_t offset) { committed_ = std::max(committed_, offset); }
    void commit_everything() { committed_ = UINT64_MAX; }
    uint64_t committed() const { return committed_; }

    // Writes what the log holds (up to the commit point), reads what the replica
    // wrote, and re-arms the socket; call after the log, the commit point or the
    // output's room changed.
    void pump();
    // True when every logged byte (and the FIN) has been written to the replica.
    bool input_drained() const { return log_.pending().empty() && (!log_.fin_logged() || input_shut_); }
    bool input_shut() const { return input_shut_; }
    // At takeover, for a replica that has not read the whole log in time: the logged
    // bytes it has not been given (moved out), and whether the client's FIN is still to
    // be passed on after them.
    ByteQueue take_unfed_input() { return log_.take_pending(); }
    bool client_fin_unfed() const { return log_.fin_logged() && !input_shut_; }
    // Takeover: hands the replica socket over. It stays watched by the loop, with
    // this feed's handler until the new owner rebinds it (EventLoop::rebind) or
    // removes it; the feed no longer touches it.
    UniqueFd release_replica_socket();

    // The socket prepared for this connection's rebuild when it opened
    // (prepare_repair_socket()); the takeover takes it and finishes it. Empty if none
    // was given or once taken.
    void hold_prepared_socket(PreparedSocket socket) { prepared_ = std::move(socket); }
    bool has_prepared_socket() const { return bool(prepared_.fd); }
    PreparedSocket take_prepared_socket() { return std::move(prepared_); }

    // Gives back the memory of buffers that are empty now (idle connections keep none);
    // returns the bytes freed.
    size_t release_idle_memory();

private:
    ReplicaFeed(EventLoop& loop, UniqueFd fd, const ConnOpenRecord& conn, const FeedLimits& limits);
    void on_events(uint32_t events);
    // The replica refused the connection (not listening yet: a replica still replaying
    // its service's start-up): connect again in kConnectRetryMs from the same local
    // port, which the replica's log already names, for at most kConnectAttempts tries.
    void retry_connect_later();
    void connect_again();
    void write_input();
    void read_output();
    void break_feed(const std::string& why);
    void update_interest();
    void note_divergence();

    EventLoop& loop_;
    UniqueFd fd_;
    PreparedSocket prepared_;
    ConnOpenRecord conn_;
    InputLog log_;
    ReplicaOutput output_;
    uint16_t local_port_ = 0;
    uint64_t committed_ = 0;  // client offset the replica may be fed up to (COMMIT)
    sockaddr_in replica_{};
    sockaddr_in local_{};
    UniqueFd retry_timer_;
    int connect_attempts_ = 1;
    bool connected_ = false;
    // False once a read found nothing, until epoll reports the socket readable again:
    // pump() then costs no syscall on an idle connection (the takeover's drain pumps
    // every connection at each step; 9,000 empty reads took ~45 ms before the claim).
    bool may_read_ = true;
    bool input_shut_ = false;
    bool broken_ = false;
    uint32_t interest_ = 0;
};

}  // namespace tcpfo
