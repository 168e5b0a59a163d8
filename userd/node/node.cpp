#include "userd/node/node.h"

#include <unordered_set>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/base/service_manager.h"
#include "userd/node/silent_close.h"
#include "userd/node/start_listen.h"
#include "userd/takeover/vip_address.h"

namespace tcpfo {

namespace {
// What the status says of a connection the takeover rebuilt, once this node protects
// new connections: nobody holds its bytes.
constexpr const char* kRebuiltUnprotected = "rebuilt at the takeover, before any backup joined: not replicated";
}  // namespace

Node::~Node() {
    // The primary first: it shares the hooks and the heartbeat with the backup role,
    // and the backup's loop registrations go last.
    if (backup_) backup_->forward_health_after_takeover({});
    primary_.reset();
    backup_.reset();
}

Result<std::unique_ptr<Node>> Node::start(EventLoop& loop, const Options& options) {
    std::unique_ptr<Node> node(new Node(loop, options));
    Options& o = node->options_;
    node->start_why_ = "the node list's role";
    if (o.cluster && o.role == NodeRole::primary) {
        auto heard = listen_before_start(loop, o);
        if (!heard) return std::unexpected(heard.error());
        const StartDecision decision = decide_start(o.role, *heard);
        if (decision.joined) {
            if (!o.replica)
                return fail("a peer serves at epoch {}: node {} must join it as a backup, but has no --replica "
                            "(give every node its replica)", heard->highest_peer_epoch, o.cluster->own_id);
            o.role = NodeRole::backup;
            node->start_why_ = fmt::format("joined: a peer serves at epoch {}{}", heard->highest_peer_epoch,
                                           o.preempt ? "; preempts once caught up" : "; no preemption");
            // A failoverd killed on this node left the VIP behind: a backup must not
            // answer for it (one speaker).
            auto stale = VipAddress::remove_stale(o.dev, o.vip.addr, o.vip.length);
            if (!stale) return std::unexpected(stale.error());
            if (*stale)
                log_warn("failoverd: removed the VIP {} left on {} by an earlier run", addr_to_string(o.vip.addr), o.dev);
        }
    }
    if (o.role == NodeRole::primary) {
        auto primary = PrimaryNode::start(loop, o);
        if (!primary) return std::unexpected(primary.error());
        node->primary_ = std::move(*primary);
    } else {
        auto backup = BackupNode::start(loop, o);
        if (!backup) return std::unexpected(backup.error());
        node->backup_ = std::move(*backup);
    }
    node->note_role();
    return node;
}

std::string Node::start_text() const {
    if (primary_) return "primary: waiting for its backup(s)";
    return backup_->greeted() ? "backup: replicating" : "backup: waiting for the primary's stream";
}

std::string Node::current_role() const {
    if (primary_) return primary_->handed_over() ? "handed-over" : "primary";
    if (backup_->taking_over()) return "taking-over";
    return "backup";
}

uint64_t Node::current_epoch() const { return primary_ ? primary_->epoch() : backup_->epoch(); }

void Node::note_role() {
    const std::string role = current_role();
    // A backup that follows another primary than the one it first followed (elected
    // among several backups) stays a backup, under a new epoch: an entry of its own.
    bool follows_another = false;
    if (role == "backup" && backup_->greeted()) {
        const std::string primary = to_string(backup_->primary_address());
        follows_another = !followed_.empty() && primary != followed_;
        followed_ = primary;
    }
    if (role == roles_.current() && !follows_another) return;
    std::string why;
    if (roles_.entries().empty()) why = start_why_;
    else if (follows_another)
        why = fmt::format("follows {}, the primary of epoch {}", followed_, current_epoch());
    else if (role == "taking-over")
        why = backup_->status(StatusDetail::summary).takeover.value_or(TakeoverStatus{}).reason;
    else if (role == "primary") why = "the takeover serves; protects the connections opened from now on";
    else if (role == "handed-over") why = "handed over; silent until a higher epoch serves (then rejoins)";
    roles_.enter(role, current_epoch(), why);
}

std::optional<int> Node::primary_priority() const {
    if (!options_.cluster || !backup_) return std::nullopt;
    for (const NodeEntry& n : options_.cluster->nodes)
        if (n.address.sin_addr.s_addr == backup_->primary_address().sin_addr.s_addr)
            return n.priority.value_or(kDefaultNodePriority);
    return std::nullopt;
}

void Node::promote() {
    Options as_primary = options_;
    as_primary.role = NodeRole::primary;
    PrimaryNode::Inheritance inherited;
    inherited.hooks = backup_->hooks();
    inherited.heartbeat = backup_->heartbeat();
    inherited.vip = backup_->take_vip();
    inherited.epoch = backup_->epoch();
    inherited.first_conn_id = backup_->next_conn_id();
    inherited.checks = backup_->health_monitor();
    std::vector<tcpfo_conn_key> adopted;
    inherited.resumed = backup_->take_resumable();
    for (const auto& r : inherited.resumed) adopted.push_back(conn_key_of(r.conn));
    auto primary = PrimaryNode::promote(loop_, as_primary, std::move(inherited));
    if (!primary) {
        // Nobody resumes them: their clamp would hold the clients' ACKs for good. They
        // keep the ack ceiling their splices need.
        for (const auto& key : adopted) {
            backup_->hooks()->forget(key);
            (void)backup_->hooks()->mark_rebuilt(key);
        }
        backup_->keep_ring();
        // The takeover keeps serving what it rebuilt; new connections stay unprotected
        // (the backup role's ring drain forgets them), as before roles could move.
        promotion_failed_ = true;
        log_error("failoverd: can't act as the primary after the takeover: {}; new connections stay unprotected",
                  primary.error().message);
        return;
    }
    primary_ = std::move(*primary);
    backup_->forward_health_after_takeover(
        [primary = primary_.get()](const HealthMonitor::Change& change) { primary->on_checks_changed(change); });
    backup_->mark_rebuilt_unprotected(kRebuiltUnprotected);
    notify_status(fmt::format("primary at epoch {} after a takeover: protects new connections", primary_->epoch()));
}

void Node::preempt_if_due() {
    if (!options_.preempt || !backup_ || primary_ || backup_->taking_over() || backup_->handover_requested()) return;
    const auto theirs = primary_priority();
    if (!options_.cluster || !theirs || options_.cluster->own_priority <= *theirs) return;
    if (backup_->caught_up()) backup_->request_handover();
}

void Node::after_events() {
    // A takeover begins inside an event (a verdict, a broken stream, a HANDOVER) and may
    // serve by the end of this call: noted first, so the history shows it.
    note_role();
    if (backup_) backup_->after_events();
    if (backup_ && backup_->serving() && !primary_ && !promotion_failed_) promote();
    if (primary_) primary_->after_events();
    preempt_if_due();
    rejoin_if_due();
    if (fatal_error_) return;  // no role left to note
    note_role();
}

void Node::rejoin_if_due() {
    if (stopping_ || rejoin_refused_ || fatal_error_) return;
    std::optional<uint64_t> since;
    if (primary_) since = primary_->stepped_down_ms();
    else if (backup_) since = backup_->stepped_down_ms();
    if (!since) return;
    // The shorthand has no node list to rejoin by, and a backup needs its replica.
    if (!options_.cluster || !options_.replica) {
        rejoin_refused_ = true;
        log_warn("failoverd: stays silent: {}; restart failoverd to rejoin as a backup",
                 !options_.cluster ? "the --role/--peer shorthand rejoins only by a restart" : "no --replica to rejoin with");
        return;
    }
    std::shared_ptr<Heartbeat> heartbeat = primary_ ? primary_->heartbeat() : backup_->heartbeat();
    const uint64_t serving = heartbeat->highest_peer_epoch();
    if (serving <= current_epoch()) return;
    // Two detection times: the followers of this node have heard the new primary and
    // taken its stream, so the streams this node closes below break nothing they use.
    const uint64_t detection = uint64_t(std::max(options_.lease_ms, options_.heartbeat_ms * options_.dead_after));
    if (monotonic_ms() < *since + 2 * detection) return;
    rejoin(serving);
}

void Node::rejoin(uint64_t serving_epoch) {
    std::shared_ptr<Hooks> hooks = primary_ ? primary_->hooks() : backup_->hooks();
    std::shared_ptr<Heartbeat> heartbeat = primary_ ? primary_->heartbeat() : backup_->heartbeat();
    // The service's sockets (and a takeover's) of the connections the serving node
    // holds now: closed while the egress is frozen, so their resets reach nobody, and
    // so that none speaks again the day this node holds the VIP.
    hooks->set_frozen(true);
    auto closed = close_sockets_of(options_.vip.addr, options_.port);
    if (!closed || closed->failed != 0) {
        rejoin_refused_ = true;
        log_error("failoverd: can't rejoin as a backup: {}; stays silent (restart failoverd to rejoin)",
                  !closed ? closed.error().message
                          : fmt::format("{} socket(s) of {}:{} would not close ({})", closed->failed,
                                        addr_to_string(options_.vip.addr), options_.port, closed->first_error));
        return;
    }
    // A backup never answers for the VIP: one a failed promotion left behind goes too.
    if (auto stale = VipAddress::remove_stale(options_.dev, options_.vip.addr, options_.vip.length); !stale) {
        rejoin_refused_ = true;
        log_error("failoverd: can't rejoin as a backup: {}; stays silent (restart failoverd to rejoin)",
                  stale.error().message);
        return;
    }
    std::vector<tcpfo_conn_key> keys = closed->closed;
    if (primary_) {
        auto known = primary_->protected_keys();
        keys.insert(keys.end(), known.begin(), known.end());
    }
    const std::string was = current_role();
    if (backup_) backup_->forward_health_after_takeover({});
    primary_.reset();
    backup_.reset();
    for (const auto& key : keys) hooks->forget(key);
    hooks->set_takeover_mode(false);
    hooks->set_frozen(false);

    Options as_backup = options_;
    as_backup.role = NodeRole::backup;
    auto backup = BackupNode::rejoin(loop_, as_backup, hooks, heartbeat);
    if (!backup) {
        fatal_error_ = fmt::format("can't rejoin as a backup: {}", backup.error().message);
        return;
    }
    backup_ = std::move(*backup);
    promotion_failed_ = false;
    followed_.clear();
    roles_.enter("backup", serving_epoch,
                 fmt::format("rejoined: epoch {} serves; {} socket(s) of the old connections closed unseen",
                             serving_epoch, closed->closed.size()));
    log_warn("failoverd: {} rejoins as a backup: epoch {} serves; closed {} socket(s) of {}:{} unseen by their "
             "clients", was, serving_epoch, closed->closed.size(), addr_to_string(options_.vip.addr), options_.port);
    notify_status(fmt::format("backup: rejoined, epoch {} serves", serving_epoch));
}

bool Node::stop_by_handing_over() {
    stopping_ = true;
    return primary_ && !primary_->handed_over() && primary_->stop_by_handing_over();
}

bool Node::stop_ready() const { return !primary_ || primary_->stop_ready(); }

void Node::shut_down() {
    if (primary_) primary_->shut_down();
    if (backup_) backup_->shut_down();
    // A failed promotion took the VIP from the takeover with it: remove it by address.
    if (promotion_failed_) {
        if (auto r = VipAddress::remove_stale(options_.dev, options_.vip.addr, options_.vip.length); !r)
            log_error("failoverd: {}", r.error().message);
    }
}

Result<ControlServer::ServiceOffer> Node::offer_service(int pid) {
    // A node that took over runs its replica, which went live: a new recording needs a
    // restart of the service and its replicas (operations.md).
    if (backup_) return backup_->offer_service(pid);
    return primary_->offer_service(pid);
}

Result<std::string> Node::handover(const std::optional<std::string>& node) {
    if (primary_) return primary_->handover(node);
    return backup_->handover(node);
}

NodeStatus Node::status(StatusDetail detail) const {
    NodeStatus s;
    if (primary_ && backup_) {
        // A primary after a takeover: the primary's peers and new connections, the
        // takeover's report and the connections it rebuilt (unprotected).
        NodeStatus rebuilt = backup_->status(detail);
        s = primary_->status(detail);
        s.role = primary_->handed_over() ? "handed-over" : "taken-over-primary";
        s.takeover = std::move(rebuilt.takeover);
        s.takeovers = rebuilt.takeovers;
        s.health = std::move(rebuilt.health);
        s.service = std::move(rebuilt.service);
        s.output_check = std::move(rebuilt.output_check);
        s.conns_spliced = rebuilt.conns_spliced;
        // A rebuilt connection the primary resumed is listed once, as the primary
        // sees it (protected, with its backups); the others as the takeover left them.
        std::unordered_set<uint64_t> resumed;
        for (const auto& c : s.conns) resumed.insert(c.id);
        std::vector<ConnStatus> conns;
        for (auto& c : rebuilt.conns)
            if (!resumed.count(c.id)) conns.push_back(std::move(c));
        for (auto& c : s.conns) conns.push_back(std::move(c));
        s.conns = std::move(conns);
    } else if (primary_) {
        s = primary_->status(detail);
    } else {
        s = backup_->status(detail);
    }
    s.roles = roles_.entries();
    return s;
}

}  // namespace tcpfo
