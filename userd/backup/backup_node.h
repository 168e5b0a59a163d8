// The backup: accepts the primary's replication stream, feeds each connection's
// input to the local replica, acknowledges what it logged (the stable point), and
// takes over when the primary goes silent or its stream breaks.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_set>

#include "userd/backup/app_log_sink.h"
#include "userd/hooks/open_hooks.h"
#include "userd/hooks/hooks.h"
#include "userd/base/event_loop.h"
#include "userd/cluster/heartbeat.h"
#include "userd/config/options.h"
#include "userd/transport/replication_socket.h"
#include "replay/replica_feed.h"
#include "userd/hooks/nudge_sender.h"
#include "userd/health/health_monitor.h"
#include "userd/status/report_cadence.h"
#include "userd/health/state_notifier.h"
#include "userd/takeover/takeover.h"
#include "userd/takeover/vip_address.h"
#include "userd/status/control_server.h"
#include "userd/status/node_status.h"

namespace tcpfo {

class BackupNode {
public:
    static Result<std::unique_ptr<BackupNode>> start(EventLoop& loop, const Options& options);
    // A node that fell silent as a primary rejoins as a backup (Node::rejoin) with the
    // hooks and the heartbeat it had: their tables emptied and unfrozen by the caller.
    static Result<std::unique_ptr<BackupNode>> rejoin(EventLoop& loop, const Options& options,
                                                      std::shared_ptr<Hooks> hooks,
                                                      std::shared_ptr<Heartbeat> heartbeat);
    // Whether it fell silent for good after taking over (it saw a higher epoch).
    std::optional<uint64_t> stepped_down_ms() const {
        if (silent_reason_.empty()) return std::nullopt;
        return silent_since_ms_;
    }
    ~BackupNode();
    void after_events();
    // SIGTERM: a backup has no backup to hand over to; it stops at once.
    bool stop_by_handing_over() { return false; }
    bool stop_ready() const { return true; }
    void shut_down();
    // tcpfo-run asks how its replica runs here: it replays (AppLogSink).
    Result<ControlServer::ServiceOffer> offer_service(int pid);
    // A backup has no backup to hand over to (nor does a node that took over: it
    // protects nothing yet): refused with one line.
    Result<std::string> handover(const std::optional<std::string>& node);
    // For the control socket (userd/status/backup_status.cpp).
    NodeStatus status(StatusDetail detail = StatusDetail::full) const;

    // For the Node that owns this role (userd/node/node.h).
    uint64_t epoch() const { return epoch_; }
    bool taking_over() const { return takeover_ != nullptr; }
    bool serving() const { return takeover_ && takeover_->serving(); }
    // The primary's stream said hello and is open.
    bool greeted() const { return primary_ && !primary_->closed() && stream_greeted_; }
    // Ready to be handed over to without losing a connection it holds: greeted,
    // eligible, the service's log (if any) held, and every connection's input fed to
    // the replica, none diverged or broken.
    bool caught_up() const;
    // --preempt: asks the primary for a planned handover to this node (once per stream).
    void request_handover();
    bool handover_requested() const { return handover_requested_; }
    // The node whose stream this one follows (at start the node list's primary; after
    // an election the winner).
    const sockaddr_in& primary_address() const { return options_.peers[primary_peer_.index()]; }
    // What the node that took over hands to the primary it becomes.
    std::shared_ptr<Hooks> hooks() const { return hooks_; }
    std::shared_ptr<Heartbeat> heartbeat() const { return heartbeat_; }
    std::optional<VipAddress> take_vip() { return takeover_ ? takeover_->take_vip() : std::nullopt; }
    // The connections the takeover rebuilt and the hooks protect again, for the
    // primary this node becomes to resume (Takeover::Context::resume_for_followers).
    std::vector<Takeover::Resumable> take_resumable();
    // The promotion failed: this role drains the hooks' ring again (events are dropped;
    // left undrained, the loop would wake for them without end).
    void keep_ring() { ring_kept_ = true; }
    // Above every connection id this node has held: the new primary's first id.
    uint64_t next_conn_id() const;
    // The checks of this node's service (null without any), and where their changes go
    // once this node has taken over (the primary it became acts on them).
    HealthMonitor* health_monitor() const { return health_.get(); }
    void forward_health_after_takeover(std::function<void(const HealthMonitor::Change&)> to) {
        health_after_takeover_ = std::move(to);
    }
    // After the promotion: the rebuilt connections are served but held by no backup
    // (status says so).
    void mark_rebuilt_unprotected(const std::string& why) { rebuilt_unprotected_why_ = why; }

private:
    BackupNode(EventLoop& loop, const Options& options);
    // start() and rejoin(): opens the hooks and the heartbeat unless given.
    static Result<std::unique_ptr<BackupNode>> open(EventLoop& loop, const Options& options,
                                                    std::shared_ptr<Hooks> hooks, std::shared_ptr<Heartbeat> heartbeat);
    void on_accept();
    // Another data node than the primary followed was heard within the detection time:
    // it will follow this node if it takes over.
    bool others_alive() const;
    // The data node `from` is (by address), if it is one.
    std::optional<PeerId> peer_of(const sockaddr_in& from) const;
    uint64_t previous_stream_bytes_ = 0;  // of the stream the last accepted one replaced
    void on_primary_record(const Record& record);
    void on_primary_lost(const std::string& why);
    void on_tick();
    void on_ring_readable();
    // planned: a HANDOVER record started it (the primary is alive and silent), not a death.
    void begin_takeover(const std::string& why, bool planned = false);
    // The takeover itself, at `new_epoch` (begin_takeover's, or once elected).
    void take_over(const std::string& why, bool planned, uint64_t new_epoch);
    void on_cluster_event(Heartbeat::ClusterEvent event, uint64_t epoch);
    // A node that took over lost its lease: the hooks drop its egress, the VIP goes,
    // until a quorum grants its epoch again (unfence: the VIP claimed and announced).
    void fence(const std::string& why);
    void unfence();
    // It saw a higher epoch: frozen, VIP removed, for good.
    void fall_silent(const std::string& why);
    // Feeds of a stream before the current one that its primary does not resume: the
    // primary that left forgot them. `stale` says which.
    void drop_stale_feeds(const std::function<bool(uint64_t)>& stale);
    // A node that took over resumes a connection this node holds from the stream before.
    void on_resume(const ResumeRecord& r);
    // The list is complete: the feeds not named are dropped.
    void on_resume_end(const ResumeEndRecord& r);
    // The primary's count of the connections this node lacks: it holds every one or not.
    void on_holdings(const HoldingsRecord& r);
    void set_holds_every_connection(bool all);
    // For log lines: "every connection", or what it lacks.
    std::string holdings_text() const;
    void report_takeover_once();
    ReplicaFeed* feed(uint64_t conn_id);
    // Status of a takeover (userd/status/backup_status.cpp): the connections as they
    // were when it began, then which of them were rebuilt.
    void note_takeover_begun(const std::string& why);
    void note_takeover_result();
    std::vector<ConnStatus> feed_statuses() const;
    void open_feed(const ConnOpenRecord& conn);
    void on_app_log(const AppLogRecord& record);
    // The replica cannot be in step with the service: tell the primary, and hand back
    // every connection of the service.
    void refuse_service(AppRefuseReason reason);
    // Tells the primary this backup does not hold the connection (so it lifts the
    // clamp instead of waiting for acknowledgements that never come), in one log line.
    // `fed`: its feeder was open (its name went to the replica), so the service's log
    // may hold its accept; otherwise such an accept refuses the service's log.
    void refuse(const ConnOpenRecord& conn, RefuseReason reason, const std::string& detail, bool fed = false);
    void sweep_feeds();
    // The replica's check changed state: the primary is told (HEALTH), and a takeover
    // declined while not eligible happens now if the primary is still gone.
    void on_health_change(const HealthMonitor::Change& change);
    void send_health();
    // Whether this node may take over: every check of its replica up.
    bool eligible() const { return !health_ || health_->healthy(); }

    EventLoop& loop_;
    Options options_;
    uint64_t epoch_ = 0;
    UniqueFd listener_;
    std::unique_ptr<Link> primary_;
    std::unique_ptr<Link> retired_link_;  // destroyed outside its own callbacks
    LinkCounters replaced_links_;         // what the primary's earlier streams carried (for metrics)
    PeerId primary_peer_{0};     // the node followed: the first --peer, then whoever's hello was taken
    PeerId stream_peer_{0};      // where the stream in the slot comes from (its hello not yet taken, maybe)
    bool primary_seen_ = false;  // a takeover needs a primary that existed
    // From a primary's hello to its RESUME_END: the feeds of the stream before wait.
    bool awaiting_resume_ = false;
    bool ring_kept_ = false;  // keep_ring()
    std::unordered_set<uint64_t> resumed_;
    bool stream_greeted_ = false;  // the current stream's hello arrived (it holds the one slot)
    uint64_t next_status_ms_ = 0;
    std::shared_ptr<Heartbeat> heartbeat_;  // the primary it becomes sends and listens with it
    // Streams refused (not from the primary, or failing authentication): counted,
    // logged once per source and rate.
    DropLog stream_drops_{"replication stream"};
    UniqueFd tick_timer_;
    ReportCadence report_cadence_;  // when to publish this node's NODE_REPORT (on the tick)
    std::shared_ptr<Hooks> hooks_;  // shared with the primary it becomes (one set of programs)
    std::optional<ArpAnnouncer> announcer_;  // opened early: closing one costs ~15 ms
    std::optional<NudgeSender> raw_;         // opened early: resets at takeover need no new descriptor
    FeedTable feeds_;
    std::unique_ptr<AppLogSink> app_log_;  // the service's log, when it runs under tcpfo-run
    std::vector<uint64_t> dirty_;              // conns whose log or output moved
    std::unique_ptr<Takeover> takeover_;  // set at the decision; then this node serves
    bool takeover_reported_ = false;
    FeedLimits limits_;
    std::optional<TakeoverStatus> takeover_status_;
    std::vector<ConnStatus> takeover_conns_;
    size_t max_connections_ = 0;  // from the open-file limit, at start (config/capacity.h)
    uint64_t next_sweep_ms_ = 0;
    std::unique_ptr<HealthMonitor> health_;  // null without checks
    std::unique_ptr<StateNotifier> notifier_;  // null without notify or notify_fifo
    // Why a takeover was declined (the primary died or handed over while this node was
    // not eligible); "" if none is pending. Cleared by a new primary's hello.
    std::string declined_takeover_;
    bool declined_planned_ = false;  // it was a HANDOVER (the primary gave up the VIP)
    bool handover_requested_ = false;  // on the current stream (--preempt)
    std::string rebuilt_unprotected_why_;  // set once this node serves as a primary
    std::function<void(const HealthMonitor::Change&)> health_after_takeover_;
    // With leases: why this node campaigns ("" if it does not), and whether a HANDOVER began it.
    std::string campaign_why_;
    bool campaign_planned_ = false;
    // What the primary last said of the connections this node holds, and whether it holds
    // every one (heartbeats carry it; status shows it).
    std::optional<HoldingsRecord> holdings_;
    bool holds_every_connection_ = false;
    std::string silent_reason_;  // a node that took over and then fell silent
    uint64_t silent_since_ms_ = 0;
    std::string fenced_;         // a node that took over whose lease lapsed ("" while it holds one)
    uint64_t fenced_at_ms_ = 0;
    std::optional<VipAddress> reclaimed_vip_;  // the VIP claimed again after a lapse
};

}  // namespace tcpfo
