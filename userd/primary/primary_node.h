// The primary: holds the VIP, snoops protected connections through the BPF hooks,
// streams them to every backup, and moves each connection's stable point (the ACK
// clamp) as the backups confirm.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "userd/hooks/open_hooks.h"
#include "userd/hooks/hooks.h"
#include "userd/protocol/conn_key.h"
#include "userd/primary/app_log_relay.h"
#include "userd/primary/conn_replicator.h"
#include "userd/primary/lag_accounting.h"
#include "userd/primary/resume_tails.h"
#include "userd/status/control_server.h"
#include "userd/base/event_loop.h"
#include "userd/cluster/heartbeat.h"
#include "userd/hooks/nudge_sender.h"
#include "userd/health/health_monitor.h"
#include "userd/health/state_notifier.h"
#include "userd/config/options.h"
#include "userd/transport/replication_socket.h"
#include "userd/transport/retry_backoff.h"
#include "userd/takeover/resumable.h"
#include "userd/takeover/vip_address.h"
#include "userd/status/node_status.h"
#include "userd/status/report_cadence.h"

namespace tcpfo {

class PrimaryNode {
public:
    static Result<std::unique_ptr<PrimaryNode>> start(EventLoop& loop, const Options& options);

    // What a backup that took over hands to the primary it becomes (userd/node/node.h):
    // the hooks it attached at start (one set of BPF programs serves the rebuilt
    // connections and the new ones), its heartbeat (already announcing the new epoch
    // as a primary, to the same peers), and the VIP its takeover claimed.
    struct Inheritance {
        std::shared_ptr<Hooks> hooks;
        std::shared_ptr<Heartbeat> heartbeat;
        std::optional<VipAddress> vip;
        uint64_t epoch = 0;
        uint64_t first_conn_id = 1;  // above the rebuilt connections' ids: one name each in status and logs
        HealthMonitor* checks = nullptr;  // the backup's checks of this node's service, if any
        // Connections the takeover rebuilt and the hooks protect again, to resume toward
        // the backups that follow this node (resume_tails.h).
        std::vector<Resumable> resumed;
    };
    // Starts protecting new connections with what the takeover left: no VIP claimed and
    // no hooks attached here. The hooks' ring buffer, watched by the backup until now,
    // is this node's from here on.
    static Result<std::unique_ptr<PrimaryNode>> promote(EventLoop& loop, const Options& options,
                                                        Inheritance inherited);
    ~PrimaryNode();
    bool handed_over() const { return handed_over_to_.has_value(); }
    // It stopped speaking for good (handed over, or it saw a higher epoch): when, on the
    // monotonic clock; nullopt while it may speak (a fenced node may speak again).
    std::optional<uint64_t> stepped_down_ms() const {
        if (handed_over_to_ || !silent_reason_.empty()) return stepped_down_ms_;
        return std::nullopt;
    }
    // What a node that rejoins as a backup takes over (Node::rejoin), and the
    // connections its hooks still know.
    std::shared_ptr<Hooks> hooks() const { return hooks_; }
    std::shared_ptr<Heartbeat> heartbeat() const { return heartbeat_; }
    std::vector<tcpfo_conn_key> protected_keys() const;
    // A check of this node's service changed state, in a monitor this node does not own
    // (a promoted node's: the backup role's). As for its own checks: down hands over.
    void on_checks_changed(const HealthMonitor::Change& change) { on_health_change(change); }
    uint64_t epoch() const { return epoch_; }

    // Called by the main loop after each batch of events: flushes stable points,
    // nudges, retries peers, resumes the ring buffer after backpressure.
    void after_events();
    // SIGTERM, first: with a ready backup the node hands over (handover() below) and
    // returns true: the loop keeps turning until stop_ready(), so that the HANDOVER
    // leaves. Without one (or once handed over already) false: stop as before.
    bool stop_by_handing_over();
    // The backup closed the stream (it has the HANDOVER and took over), or
    // kStopWaitMs passed.
    bool stop_ready() const;
    // SIGTERM, last: release the VIP (if still held); the BPF programs detach when the
    // node is destroyed.
    void shut_down();
    // For the control socket (userd/status/primary_status.cpp).
    NodeStatus status(StatusDetail detail = StatusDetail::full) const;
    // tcpfo-run asks how its service runs here: it records (AppLogRelay).
    Result<ControlServer::ServiceOffer> offer_service(int pid);
    // `failoverctl handover [NODE]`: falls silent and hands every connection over to a
    // backup with a live stream (NODE: its ADDR, ADDR:PORT or node id; any if unset):
    // egress frozen, the ring drained into the stream, the VIP removed, HANDOVER sent.
    // Returns the backup's address. Refused, changing nothing, without a live backup
    // or when the VIP cannot be removed. The node then stays silent (role
    // handed-over): it never unfreezes or claims the VIP again by itself.
    Result<std::string> handover(const std::optional<std::string>& node);

private:
    struct Peer {
        sockaddr_in address{};
        std::optional<sockaddr_in> second_address;  // a second path (--transport sctp)
        std::unique_ptr<Link> link;
        bool live = false;  // hello exchanged
        uint64_t retry_at_ms = 0;
        uint64_t attempt_at_ms = 0;  // when the current connect attempt started
        RetryBackoff backoff;       // delay before the next connect attempt
        bool ever_live = false;     // for status: "connecting" until first live, "lost" after
        uint64_t since_us = 0;      // wall clock of the last change of state
        uint64_t connected_us = 0;  // wall clock of the last hello exchanged (kept once lost)
        std::string last_error;     // why the last attempt or the stream failed
        LinkCounters replaced;      // what the links replaced since start carried (for metrics)
        // What the backup said of its replica's health (a HEALTH record); a backup that
        // says nothing has no checks and is eligible. Reset with each new stream.
        bool eligible = true;
        std::string ineligible_reason;
        bool health_heard = false;
        // What it was last told of the connections it holds (HOLDINGS), and when.
        std::optional<HoldingsRecord> holdings_sent;
        uint64_t holdings_sent_ms = 0;
    };

    PrimaryNode(EventLoop& loop, const Options& options);
    // The part of a start that start() and promote() share: timers, nudges, notifier,
    // checks, and the first connect to every peer. On failure the caller undoes.
    Result<void> start_duties(bool with_checks);
    // A backup asks to be handed over to (HANDOVER_REQUEST: it preempts).
    void on_handover_request(PeerId id, const HandoverRequestRecord& request);
    void on_heartbeat_tick();
    void connect_peer(PeerId id);
    // A connect attempt failed or the stream broke: try again after the peer's backoff.
    void schedule_retry(PeerId id);
    void arm_retry_timer();
    void on_retry_timer();
    void note_connect_failure(PeerId id, const std::string& why);
    void on_peer_record(PeerId id, const Record& record);
    void on_peer_lost(PeerId id, const std::string& why);
    void on_ring_readable();
    void on_snoop_event(const tcpfo_event& event, std::span<const uint8_t> payload);
    void send_to_required(const ConnReplicator& conn, const Record& record);
    void forget_conn(const tcpfo_conn_key& key);
    // The connection's log label, with its id when it is protected.
    std::string label(const ConnKey& key) const;
    void on_conn_refused(PeerId id, const ConnRefusedRecord& refused);
    // A promoted node: protects the connections its takeover rebuilt again (Inheritance::resumed).
    void resume_rebuilt(std::vector<Resumable> resumed);
    // A follower's stream went live: it is offered every resumed connection (RESUME and
    // its tail), then told the list is complete (RESUME_END).
    void offer_resumed(PeerId id);
    // Resumed connections no follower took in time: unprotected (the clamp lifted).
    void expire_resumed(uint64_t now_ms);
    // Some peer heard alive at the promotion has not been offered the resumed ones yet.
    bool awaits_followers() const;
    void flush_stable_points();
    bool replication_backlogged() const;
    void update_ready_file();
    void log_status();
    void forget_half_open(uint64_t now_ms);
    // For status: the primary forgets unprotected connections; it keeps the last few.
    void note_unprotected(const tcpfo_conn_key& key, const char* why);
    // The live backup `node` names (any live one if unset), or why there is none.
    Result<PeerId> handover_target(const std::optional<std::string>& node) const;
    // handover() once its target is known (SIGTERM finds it first, to tell "no backup"
    // from a failed handover).
    Result<std::string> hand_over_to(PeerId target);
    // The hooks saw the service's process exit with protected connections open
    // (TCPFO_EV_SERVICE_DIED): hand them over, or, with no ready backup, let them close.
    void on_service_died();
    // A check of this node's service changed state (health_monitor.h): going down
    // hands over to a live, eligible backup, or, with none, keeps serving and tries
    // again when one becomes ready (health_handover_wanted_).
    void on_health_change(const HealthMonitor::Change& change);
    void hand_over_for_health(const std::string& why);
    void on_peer_health(PeerId id, const HealthRecord& health);
    // What the heartbeat thread found: a lease granted (claim the VIP), lost, or a
    // higher epoch (fall silent).
    void on_cluster_event(Heartbeat::ClusterEvent event, uint64_t epoch);
    // The lease ran out: the hooks drop the egress (their deadline), the VIP goes, one
    // line; it comes back if a quorum grants this epoch again (on_cluster_event).
    void fence(const std::string& why);
    // Invariant 3 for good (a higher epoch exists): egress frozen, heartbeats stopped,
    // VIP removed, one line. Rejoining as a backup takes a restart.
    void fall_silent(const std::string& why);

    EventLoop& loop_;
    Options options_;
    uint64_t epoch_ = 1;
    std::optional<VipAddress> vip_;
    // Shared with the backup role's takeover after a promotion (its splices' ACK ceiling
    // and pure-ACK lift live in the same programs).
    std::shared_ptr<Hooks> hooks_;
    std::optional<NudgeSender> nudge_;
    std::shared_ptr<Heartbeat> heartbeat_;
    // Streams to backups that failed authentication: counted, logged once per peer and rate.
    DropLog stream_drops_{"replication stream"};
    UniqueFd tick_timer_;
    ReportCadence report_cadence_;  // when to publish this node's NODE_REPORT (on the tick)
    UniqueFd retry_timer_;  // one-shot, at the earliest peer retry
    std::vector<Peer> peers_;
    // Each peer's lag in time (status, metrics), fed as the connections change.
    LagAccounting lag_;
    std::unordered_map<tcpfo_conn_key, std::unique_ptr<ConnReplicator>, ConnKeyHash> conns_;
    std::unordered_map<uint64_t, ConnReplicator*> conns_by_id_;
    ResumeTails resume_tails_;  // after a takeover with followers: what they may lack
    // The peers heard alive when this node was promoted, not yet offered the resumed
    // connections: once none is left, a resumed connection no follower took is
    // unprotected at once rather than after ResumeTails::kKeepMs.
    std::vector<bool> resume_awaited_;
    // The connections this node rebuilt at its takeover that it protects again: when
    // forgotten unprotected, their ack ceiling stays (forget_conn).
    std::unordered_set<tcpfo_conn_key, ConnKeyHash> rebuilt_keys_;
    // Once a second, connections whose handshake has not completed for 10 s are
    // forgotten: the hooks create an entry per SYN-ACK, and a SYN flood must not fill
    // the tables.
    uint64_t next_half_open_sweep_ms_ = 0;
    // HOLDINGS: each backup is told how many of the protected connections it lacks
    // (an election prefers one that lacks none).
    static constexpr uint64_t kHoldingsEveryMs = 100;
    uint64_t next_holdings_ms_ = 0;
    void send_holdings(uint64_t now_ms);
    // Connections whose stable point moved (or that finished) in this batch: each is
    // written to the map and nudged once per batch, however many records moved it.
    std::unordered_set<tcpfo_conn_key, ConnKeyHash> stable_dirty_;
    uint64_t next_conn_id_ = 1;
    bool ring_paused_ = false;
    uint64_t next_status_ms_ = 0;
    bool ready_written_ = false;
    std::vector<bool> required_now_;  // scratch
    std::deque<UnprotectedStatus> unprotected_;  // the most recent, for status
    uint64_t unprotected_total_ = 0;
    size_t max_connections_ = 0;      // at start (config/capacity.h)
    std::unique_ptr<AppLogRelay> app_log_;  // the service under tcpfo-run, once it asked
    int app_log_pid_ = 0;
    // Set by handover(): the egress is frozen, the VIP gone, HANDOVER sent to this peer.
    std::optional<std::string> handed_over_to_;
    std::optional<tcpfo_conn_key> service_died_;  // the first connection the service's exit closed
    bool service_death_handled_ = false;
    uint64_t stop_deadline_ms_ = 0;  // set by stop_by_handing_over()
    std::unique_ptr<HealthMonitor> health_;  // null without checks, or when promoted (checks_ below)
    HealthMonitor* checks_ = nullptr;         // the checks in force: health_, or the backup role's
    std::unique_ptr<StateNotifier> notifier_;  // null without notify or notify_fifo
    // This node's service failed its check with no eligible backup live to take it:
    // a backup that becomes ready (hello, or a HEALTH saying eligible) is handed over to.
    bool health_handover_wanted_ = false;
    // Why this node fell silent (fall_silent); empty while it may speak.
    std::string silent_reason_;
    uint64_t stepped_down_ms_ = 0;  // when it handed over or fell silent
    // Why its lease lapsed (fence); empty while it holds one.
    std::string fenced_;
    uint64_t fenced_at_ms_ = 0;
};

}  // namespace tcpfo
