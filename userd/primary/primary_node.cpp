#include "userd/primary/primary_node.h"

#include <net/if.h>
#include <sys/epoll.h>

#include <fstream>

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/base/seq.h"
#include "userd/base/service_manager.h"
#include "userd/config/capacity.h"
#include "bpf/snoop.h"

namespace tcpfo {

namespace {
// How long a connection may stay half-open (SYN-ACK sent, nothing from the client)
// before the tables forget it; Linux gives up on the SYN-ACK after about 63 s, but
// a client that has not answered in this long is not worth a table entry.
constexpr uint64_t kHalfOpenLimitMs = 10000;
constexpr uint64_t kBackupSlackFactor = 10;
// Records queued for one peer beyond which the ring buffer is no longer drained:
// the ring fills, the hooks count drops, the clamp never acknowledges the dropped
// bytes and the client retransmits them. Backpressure without unbounded memory.
constexpr size_t kPeerBacklogLimit = 32 << 20;
// How long a connect to a backup may go unanswered before it is tried afresh; longer
// when failure detection is slower (three times the backup's verdict time).
constexpr uint64_t kConnectAttemptMinMs = 100;
// How long a primary stopped by SIGTERM after handing over waits for its backup to close
// the stream (which says it has the HANDOVER) before it exits all the same. Leaving
// earlier would not lose the record (the kernel still sends what the socket holds), but
// then nothing would show that the backup got it.
constexpr uint64_t kStopWaitMs = 1000;

}  // namespace

PrimaryNode::PrimaryNode(EventLoop& loop, const Options& options) : loop_(loop), options_(options) {}

PrimaryNode::~PrimaryNode() {
    if (tick_timer_) loop_.remove(tick_timer_.get());
    if (retry_timer_) loop_.remove(retry_timer_.get());
    if (hooks_) loop_.remove(hooks_->event_fd());
}

Result<std::unique_ptr<PrimaryNode>> PrimaryNode::start(EventLoop& loop, const Options& options) {
    std::unique_ptr<PrimaryNode> node(new PrimaryNode(loop, options));
    PrimaryNode* self = node.get();

    // With leases the VIP waits for the first one (on_cluster_event): a node that may
    // not speak must not draw the clients' traffic either.
    if (!options.lease_enforced) {
        auto vip = VipAddress::claim(options.dev, options.vip.addr, options.vip.length);
        if (!vip) return fail("can't claim VIP: {}", vip.error().message);
        self->vip_.emplace(std::move(*vip));
    }
    // From here on a failure must give the VIP back: nothing half-done.
    auto undo = [&](Error e) -> Result<std::unique_ptr<PrimaryNode>> {
        if (self->vip_) (void)self->vip_->release();
        return std::unexpected(std::move(e));
    };

    auto snoop = open_hooks(options, HooksUse::primary);
    if (!snoop) return undo(snoop.error());
    self->hooks_ = std::move(*snoop);
    // No lease yet: the egress is closed until a quorum grants one (a deadline in the past).
    if (options.lease_enforced) self->hooks_->set_lease_deadline(1);
    if (auto r = loop.add(self->hooks_->event_fd(), EPOLLIN, [self](uint32_t) { self->on_ring_readable(); }); !r)
        return undo(r.error());

    // The heartbeat thread only sends and listens here: the backups' silence is
    // judged in the loop, with slack (on_heartbeat_tick).
    Heartbeat::Callbacks callbacks;
    callbacks.on_cluster = [self](Heartbeat::ClusterEvent e, uint64_t epoch) { self->on_cluster_event(e, epoch); };
    if (options.lease_enforced) {
        // On the heartbeat thread, the moment a quorum renews the lease: the kernel
        // enforces it from then on, whether this daemon runs or not.
        Hooks* hooks = self->hooks_.get();
        callbacks.on_lease_deadline = [hooks](uint64_t until_ms) { hooks->set_lease_deadline(until_ms); };
    }
    auto hb = Heartbeat::open(loop, Heartbeat::Config::from(options, NodeRole::primary), std::move(callbacks));
    if (!hb) return undo(hb.error());
    self->heartbeat_ = std::move(*hb);
    self->heartbeat_->set_epoch(self->epoch_);
    if (auto r = self->start_duties(true); !r) return undo(r.error());
    return node;
}

Result<std::unique_ptr<PrimaryNode>> PrimaryNode::promote(EventLoop& loop, const Options& options,
                                                          Inheritance inherited) {
    std::unique_ptr<PrimaryNode> node(new PrimaryNode(loop, options));
    PrimaryNode* self = node.get();
    self->epoch_ = inherited.epoch;
    self->next_conn_id_ = std::max<uint64_t>(inherited.first_conn_id, 1);
    self->vip_ = std::move(inherited.vip);
    self->hooks_ = std::move(inherited.hooks);
    self->heartbeat_ = std::move(inherited.heartbeat);
    self->heartbeat_->set_role(NodeRole::primary);
    self->heartbeat_->set_epoch(self->epoch_);
    // The lease's lapse and renewal, and a higher epoch, are this node's to act on now:
    // it holds the VIP (fence() removes it, a renewed lease claims it again).
    self->heartbeat_->set_on_cluster(
        [self](Heartbeat::ClusterEvent e, uint64_t epoch) { self->on_cluster_event(e, epoch); });
    // The ring buffer was the backup's to drain (it forgot every new connection): from
    // now on its CONN_OPENs are protected here.
    if (auto r = loop.rebind(self->hooks_->event_fd(), EPOLLIN, [self](uint32_t) { self->on_ring_readable(); }); !r)
        return std::unexpected(r.error());
    // The backup's checks of its service (the replica, live since the takeover) go on
    // running where they are; their changes reach this node through
    // on_checks_changed() (userd/node/node.cpp).
    self->checks_ = inherited.checks;
    if (auto r = self->start_duties(false); !r) return std::unexpected(r.error());
    self->resume_rebuilt(std::move(inherited.resumed));
    return node;
}

void PrimaryNode::resume_rebuilt(std::vector<Resumable> resumed) {
    const uint64_t now = monotonic_ms();
    for (auto& r : resumed) {
        const tcpfo_conn_key key = conn_key_of(r.conn);
        const uint64_t client_end = seq_to_offset(r.state.rcv_nxt, r.conn.client_isn + 1, r.tail_offset);
        auto conn = std::make_unique<ConnReplicator>(r.conn, client_end, r.client_acked, r.state.snd_nxt, peers_.size());
        conns_by_id_[conn->id()] = conn.get();
        conns_.insert_or_assign(key, std::move(conn));
        rebuilt_keys_.insert(key);
        resume_tails_.add(r.conn, r.tail_offset, std::move(r.tail), now);
    }
    if (resumed.empty()) return;
    // Who may follow: the data nodes heard within the detection time, not as a primary.
    const uint64_t dead_ms = uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after);
    resume_awaited_.assign(peers_.size(), false);
    for (size_t i = 0; i < peers_.size(); ++i) resume_awaited_[i] = heartbeat_->may_follow(PeerId{uint16_t(i)}, dead_ms);
    log_info("primary: {} rebuilt connection(s) protected again; resumed toward each backup that follows within "
             "{} ms", resumed.size(), ResumeTails::kKeepMs);
}

bool PrimaryNode::awaits_followers() const {
    return std::find(resume_awaited_.begin(), resume_awaited_.end(), true) != resume_awaited_.end();
}

void PrimaryNode::offer_resumed(PeerId id) {
    Peer& peer = peers_[id.index()];
    const size_t offered = resume_tails_.offer([&](const Record& r) {
        if (const auto* resume = std::get_if<ResumeRecord>(&r)) {
            if (auto it = conns_by_id_.find(resume->conn_id); it != conns_by_id_.end()) {
                // Required from now on: its stable point waits for this follower too.
                it->second->add_required(id);
                stable_dirty_.insert(it->second->key());
            }
        }
        peer.link->send(r);
    });
    if (id.index() < resume_awaited_.size()) resume_awaited_[id.index()] = false;
    // Always, also with nothing to resume: the backup keeps the feeds of the stream it
    // followed until told which of them go on.
    peer.link->send(ResumeEndRecord{uint32_t(offered)});
    if (offered > 0) log_info("peer {}: {} rebuilt connection(s) offered to resume", peer.link->name(), offered);
}

void PrimaryNode::expire_resumed(uint64_t now_ms) {
    if (resume_tails_.empty()) return;
    for (uint64_t id : resume_tails_.expire(now_ms)) {
        auto it = conns_by_id_.find(id);
        if (it == conns_by_id_.end() || it->second->has_required_peers()) continue;
        const tcpfo_conn_key key = it->second->key();
        log_warn("{}: no backup followed within {} ms to resume it; unprotected", label(key), ResumeTails::kKeepMs);
        note_unprotected(key, "rebuilt at the takeover; no backup followed to resume it");
        forget_conn(key);
    }
}

Result<void> PrimaryNode::start_duties(bool with_checks) {
    PrimaryNode* self = this;
    EventLoop& loop = loop_;
    const Options& options = options_;
    // No descriptor per connection here: the bound is the BPF tables. The limit is
    // raised all the same (links, control clients) and reported.
    auto files = raise_open_file_limit();
    if (!files) return std::unexpected(files.error());
    max_connections_ = primary_capacity(TCPFO_MAX_CONNS);

    auto nudge = NudgeSender::open();
    if (!nudge) return std::unexpected(nudge.error());
    nudge_.emplace(std::move(*nudge));

    auto timer = make_periodic_timer(options.heartbeat_ms);
    if (!timer) return std::unexpected(timer.error());
    tick_timer_ = std::move(*timer);
    if (auto r = loop.add(tick_timer_.get(), EPOLLIN, [self](uint32_t) { self->on_heartbeat_tick(); }); !r)
        return std::unexpected(r.error());

    // Peers are retried on their own timer, not the heartbeat tick: a backup that
    // starts after the primary is reached within RetryBackoff::kMaxMs.
    auto retry_timer = make_oneshot_timer();
    if (!retry_timer) return std::unexpected(retry_timer.error());
    retry_timer_ = std::move(*retry_timer);
    if (auto r = loop.add(retry_timer_.get(), EPOLLIN, [self](uint32_t) { self->on_retry_timer(); }); !r)
        return std::unexpected(r.error());

    if (with_checks && (!options.notify.empty() || !options.notify_fifo.empty())) {
        auto notifier = StateNotifier::open(loop, options.notify, options.notify_fifo,
                                            options.cluster ? options.cluster->own_priority : kDefaultNodePriority);
        if (!notifier) return std::unexpected(notifier.error());
        notifier_ = std::move(*notifier);
        notifier_->instance(InstanceState::master);
    }
    // Checks of this node's own service (docs/operations.md, "Health checks").
    if (with_checks && !options.checks.empty()) {
        auto health = HealthMonitor::start(loop, options.checks,
                                           [self](const HealthMonitor::Change& c) { self->on_health_change(c); });
        if (!health) return std::unexpected(health.error());
        health_ = std::move(*health);
        checks_ = health_.get();
    }

    peers_.resize(options.peers.size());
    lag_ = LagAccounting(options.peers.size());
    const uint64_t now_us = realtime_us();
    for (auto& peer : peers_) peer.since_us = now_us;
    for (size_t i = 0; i < options.peers.size(); ++i) {
        peers_[i].address = options.peers[i];
        if (i < options.peers_second.size()) peers_[i].second_address = options.peers_second[i];
        connect_peer(PeerId{uint16_t(i)});
    }
    log_info("primary: VIP {}/{} on {}{}, protecting port {}, {} peer(s), epoch {}", addr_to_string(options.vip.addr),
             options.vip.length, options.dev,
             options.lease_enforced ? fmt::format(" (claimed once a quorum of {} grants a lease)", options.quorum) : "",
             options.port, options.peers.size(), epoch_);
    // Said once the start succeeded: a failed start prints its one error line only.
    log_info("primary: can hold {} connections (open-file limit {}{})", max_connections_, files->soft,
             files->raised ? ", raised to the hard limit" : "");
    return {};
}

bool PrimaryNode::stop_by_handing_over() {
    if (handed_over_to_) return false;
    auto target = handover_target(std::nullopt);
    if (!target) {
        log_info("primary: stopping without a handover ({})", target.error().message);
        return false;
    }
    auto to = hand_over_to(*target);
    if (!to) {
        log_warn("primary: can't hand over on the way out: {}; stopping without a handover", to.error().message);
        return false;
    }
    log_info("primary: handed over to {} on the way out; exiting once it closes the stream (at most {} ms)", *to,
             kStopWaitMs);
    stop_deadline_ms_ = monotonic_ms() + kStopWaitMs;
    return true;
}

bool PrimaryNode::stop_ready() const {
    if (monotonic_ms() >= stop_deadline_ms_) return true;
    for (const auto& peer : peers_)
        if (peer.live) return false;  // on_peer_lost clears it when the backup closes
    return true;
}

void PrimaryNode::shut_down() {
    if (notifier_) notifier_->instance(InstanceState::stop);
    if (handed_over_to_) {
        for (const auto& peer : peers_)
            if (peer.live)
                log_warn("peer {}: still had the stream open when this node exited ({} bytes queued)",
                         to_string(peer.address), peer.link ? peer.link->queued_bytes() : 0);
    }
    if (vip_) {
        if (auto r = vip_->release(); !r) log_error("primary: {}", r.error().message);
        else log_info("primary: released VIP {}", addr_to_string(options_.vip.addr));
    }
}

void PrimaryNode::on_service_died() {
    service_death_handled_ = true;
    // The hooks froze the egress when the first protected socket closed in the exiting
    // service (bpf/snoop.bpf.c, tcpfo_tcp_close): no FIN or RST of its connections has
    // reached a client. The backup's replica still serves them: hand them over.
    log_error("primary: the service died ({} closed by an exiting process); its connections are held silent",
              label(*service_died_));
    auto target = handover_target(std::nullopt);
    if (!target) {
        hooks_->set_frozen(false);
        log_error("primary: can't hand the dead service's connections over ({}): they close as the kernel closes "
                  "them", target.error().message);
        return;
    }
    auto to = hand_over_to(*target);
    if (!to) {
        hooks_->set_frozen(false);
        log_error("primary: can't hand the dead service's connections over ({}): they close as the kernel closes "
                  "them", to.error().message);
        return;
    }
    notify_status(fmt::format("handed over to {}: the service died", *to));
}

Result<PeerId> PrimaryNode::handover_target(const std::optional<std::string>& node) const {
    if (handed_over_to_) return fail("no ready backup: this node has handed over to {} already", *handed_over_to_);
    if (!silent_reason_.empty()) return fail("no ready backup: this node is silent ({})", silent_reason_);
    auto live = [&](const Peer& p) { return p.live && p.link && !p.link->closed(); };
    // A node id of the symmetric form names its address.
    std::optional<sockaddr_in> by_id;
    if (node && options_.cluster)
        for (const auto& entry : options_.cluster->nodes)
            if (std::to_string(entry.id) == *node) by_id = entry.address;
    for (size_t i = 0; i < peers_.size(); ++i) {
        const Peer& p = peers_[i];
        if (node) {
            const bool named = *node == to_string(p.address) || *node == addr_to_string(p.address.sin_addr.s_addr) ||
                               (by_id && by_id->sin_addr.s_addr == p.address.sin_addr.s_addr &&
                                by_id->sin_port == p.address.sin_port);
            if (!named) continue;
            if (!live(p))
                return fail("no ready backup: {} has no live replication stream ({})", to_string(p.address),
                            p.ever_live ? "lost" : "connecting");
            if (!p.eligible)
                return fail("no ready backup: {} is not eligible ({})", to_string(p.address), p.ineligible_reason);
            return PeerId{uint16_t(i)};
        }
        if (live(p) && p.eligible) return PeerId{uint16_t(i)};
    }
    if (node) return fail("no ready backup: '{}' is not a backup of this node", *node);
    // Live backups that said they are not eligible: each named, with its reason.
    std::string ineligible;
    for (const Peer& p : peers_)
        if (live(p) && !p.eligible)
            ineligible += fmt::format("{}{} is not eligible ({})", ineligible.empty() ? "" : "; ", to_string(p.address),
                                      p.ineligible_reason);
    if (!ineligible.empty()) return fail("no ready backup: {}", ineligible);
    return fail("no ready backup: none of this node's {} backup(s) has a live replication stream", peers_.size());
}

Result<std::string> PrimaryNode::handover(const std::optional<std::string>& node) {
    auto target = handover_target(node);
    if (!target) return std::unexpected(target.error());
    return hand_over_to(*target);
}

Result<std::string> PrimaryNode::hand_over_to(PeerId target) {
    Peer& peer = peers_[target.index()];
    const std::string to = to_string(peer.address);
    const uint64_t began_us = realtime_us();
    // a. Freeze first: from here on nothing of a protected connection reaches a client
    // (the service keeps running and writing), so whatever the backup gets below is all
    // the clients can have seen acknowledged (invariants 1 to 3).
    hooks_->set_frozen(true);
    // b. Every event up to now into the stream (past the backlog bound: the ring is
    // bounded, and the backup must hold every client byte and digest the primary has).
    auto drain_all = [this] {
        auto drained = hooks_->drain([this](const tcpfo_event& ev, std::span<const uint8_t> payload) {
            on_snoop_event(ev, payload);
        });
        if (!drained) log_error("primary: handover: ring buffer: {}", drained.error().message);
    };
    drain_all();
    // c. The VIP goes before the backup is told, so two holders never answer at once.
    // If it cannot go, nothing was handed over: thaw and say so.
    if (vip_) {
        if (auto r = vip_->release(); !r) {
            hooks_->set_frozen(false);
            return fail("can't remove the VIP ({}); not handed over, still serving", r.error().message);
        }
        vip_.reset();
    }
    // What arrived meanwhile (the clamp never acknowledged it; the backup holding more
    // only spares the clients a resend).
    drain_all();
    // d. The last record: the backup takes over on it at once. Handed over from here on,
    // before the flush: a stream that breaks in it is then the handed-over kind of loss
    // (no retry; the backup takes a broken stream for a death and takes over too).
    handed_over_to_ = to;
    stepped_down_ms_ = monotonic_ms();
    // No more heartbeats as the primary, and this node's own vote given back: with it the
    // backup's campaign (with leases it needs a quorum's votes) wins at once; the other
    // voters' promises to this node run out within a lease.
    heartbeat_->hand_over(epoch_);
    if (notifier_) notifier_->instance(InstanceState::fault);  // no longer serving, not a backup either
    peer.link->send(HandoverRecord{epoch_});
    peer.link->flush();
    log_warn("primary: handed over {} connection(s) to {} in {} us (egress frozen, VIP {} removed); this node stays "
             "silent", conns_.size(), to, realtime_us() - began_us,
             addr_to_string(options_.vip.addr));
    return to;
}

void PrimaryNode::on_health_change(const HealthMonitor::Change& change) {
    if (notifier_) {
        notifier_->check(change.spec.name, change.up, change.reason);
        // Handed over: FAULT stays until it stops (it never serves again by itself).
        if (!handed_over_to_) notifier_->instance(checks_->healthy() ? InstanceState::master : InstanceState::fault);
    }
    if (handed_over_to_ || !silent_reason_.empty()) return;
    if (change.up) {
        if (checks_->healthy() && health_handover_wanted_) {
            health_handover_wanted_ = false;
            log_info("primary: check {} is up again; this node's service is healthy, no handover wanted",
                     change.spec.name);
        }
        return;
    }
    // Edge-triggered: a second check going down while a handover is wanted adds nothing.
    if (health_handover_wanted_) return;
    hand_over_for_health(fmt::format("check {}: {}", change.spec.name, change.reason));
}

void PrimaryNode::hand_over_for_health(const std::string& why) {
    auto target = handover_target(std::nullopt);
    if (!target) {
        health_handover_wanted_ = true;
        log_warn("primary: this node's service failed its health check ({}); {}; still serving, and hands over to "
                 "the first backup that becomes ready", why, target.error().message);
        return;
    }
    log_warn("primary: this node's service failed its health check ({}); handing over to {}", why,
             to_string(peers_[target->index()].address));
    health_handover_wanted_ = false;
    if (auto to = hand_over_to(*target); !to)
        log_error("primary: handover after a failed health check ({}): {}", why, to.error().message);
}

void PrimaryNode::on_peer_health(PeerId id, const HealthRecord& health) {
    Peer& peer = peers_[id.index()];
    // Eligible is what a backup is taken to be until it says otherwise: its first
    // HEALTH (sent after every hello, checks or not) is news only when it says no.
    const bool changed = peer.eligible != health.eligible;
    peer.health_heard = true;
    peer.eligible = health.eligible;
    peer.ineligible_reason = health.eligible ? "" : health.reason;
    if (changed) {
        if (health.eligible) log_info("peer {}: eligible again (its health checks pass)", peer.link->name());
        else log_warn("peer {}: not eligible to take over ({})", peer.link->name(), health.reason);
    }
    // This node's service is down and was waiting for a backup to take it.
    if (health.eligible && health_handover_wanted_ && checks_ && !checks_->healthy())
        hand_over_for_health(checks_->unhealthy_reason());
}

void PrimaryNode::on_handover_request(PeerId id, const HandoverRequestRecord& request) {
    Peer& peer = peers_[id.index()];
    if (request.epoch != epoch_) {
        log_warn("peer {}: handover request at epoch {} ignored (this node is at epoch {})", peer.link->name(),
                 request.epoch, epoch_);
        return;
    }
    if (handed_over_to_) return;
    // The backup asks because it has the higher priority and has caught up (--preempt);
    // the connections it does not hold (opened before it joined, or rebuilt by this
    // node's takeover) end with the handover: that is the price of preempting.
    log_warn("peer {}: asks for a planned handover (it preempts: higher priority, caught up)", peer.link->name());
    auto to = handover(to_string(peer.address));
    if (!to) log_error("primary: handover requested by {} refused: {}", peer.link->name(), to.error().message);
    else notify_status(fmt::format("handed over to {}: it preempted", *to));
}

void PrimaryNode::connect_peer(PeerId id) {
    // Handed over (or silent): the backup closes the stream and serves; this node never
    // comes back as its primary.
    if (handed_over_to_ || !silent_reason_.empty()) return;
    Peer& peer = peers_[id.index()];
    peer.live = false;
    auto fd = connect_replication(options_.transport, PathAddresses{peer.address, peer.second_address},
                                  PathAddresses{options_.listen, options_.listen_second});
    if (!fd) return note_connect_failure(id, fd.error().message);
    Link::Callbacks cb;
    cb.on_record = [this, id](const Record& r) { on_peer_record(id, r); };
    cb.on_closed = [this, id](const std::string& why) { on_peer_lost(id, why); };
    cb.on_auth_drop = [this, id](const AuthError& error) {
        const sockaddr_in& address = peers_[id.index()].address;
        stream_drops_.note(to_string(address), address.sin_addr.s_addr, error, monotonic_ms());
    };
    auto link = open_replication_link(
        options_.transport, loop_, std::move(*fd), to_string(peer.address), std::move(cb),
        options_.keys ? std::make_unique<StreamAuth>(options_.keys, StreamSide::connector) : nullptr);
    if (!link) return note_connect_failure(id, link.error().message);
    if (peer.link) peer.replaced += peer.link->counters();
    peer.link = std::move(*link);
    peer.attempt_at_ms = monotonic_ms();
    peer.link->send(HelloRecord{kProtocolVersion, NodeRole::primary, epoch_});
}

void PrimaryNode::note_connect_failure(PeerId id, const std::string& why) {
    Peer& peer = peers_[id.index()];
    // The first failure of a streak is worth a line; the retries that follow (every
    // few ms at first, RetryBackoff::kMaxMs at most) are not.
    if (peer.backoff.failures() == 0)
        log_warn("peer {}: can't connect: {}; retrying every {} ms at most", to_string(peer.address), why,
                 peer.backoff.max_ms());
    else
        log_debug("peer {}: can't connect: {}", to_string(peer.address), why);
    peer.last_error = why;
    schedule_retry(id);
}

void PrimaryNode::schedule_retry(PeerId id) {
    Peer& peer = peers_[id.index()];
    peer.retry_at_ms = monotonic_ms() + peer.backoff.next_delay_ms();
    arm_retry_timer();
}

void PrimaryNode::arm_retry_timer() {
    uint64_t earliest = UINT64_MAX;
    for (const auto& peer : peers_)
        if (!peer.link || peer.link->closed()) earliest = std::min(earliest, peer.retry_at_ms);
    if (earliest == UINT64_MAX) return;
    const uint64_t now = monotonic_ms();
    // 0 would disarm the timer: a retry that is due fires in a millisecond.
    if (auto r = arm_oneshot_timer(retry_timer_.get(), earliest > now ? earliest - now : 1); !r)
        log_error("primary: {}", r.error().message);  // the heartbeat tick still retries
}

void PrimaryNode::on_retry_timer() {
    drain_timer(retry_timer_.get());
    const uint64_t now = monotonic_ms();
    for (size_t i = 0; i < peers_.size(); ++i) {
        Peer& peer = peers_[i];
        if ((!peer.link || peer.link->closed()) && now >= peer.retry_at_ms) connect_peer(PeerId{uint16_t(i)});
    }
    arm_retry_timer();
}

void PrimaryNode::on_peer_record(PeerId id, const Record& record) {
    Peer& peer = peers_[id.index()];
    // A busy stream is as good as a heartbeat, dated by its arrival (a backlog read
    // late must not make a dead backup look alive).
    if (const uint64_t arrived = peer.link->last_arrival_ms(); arrived != 0) heartbeat_->heard_from(id, arrived);
    if (auto* hello = std::get_if<HelloRecord>(&record)) {
        if (hello->version != kProtocolVersion || hello->role != NodeRole::backup || hello->epoch > epoch_) {
            log_error("peer {}: refused hello (version {}, epoch {}); closing", peer.link->name(), hello->version,
                      hello->epoch);
            peer.link->close();
            peer.last_error = "refused hello";
            schedule_retry(id);
            return;
        }
        peer.live = true;
        peer.ever_live = true;
        // A new stream: what the backup said of its health before is stale (it sends
        // HEALTH right after its hello if it has checks).
        peer.eligible = true;
        peer.ineligible_reason.clear();
        peer.health_heard = false;
        peer.holdings_sent.reset();  // told again on this stream
        peer.since_us = peer.connected_us = realtime_us();
        lag_.reset_peer(id);  // a new stream: it is owed nothing yet
        heartbeat_->heard_from(id);
        log_info("peer {}: replication established (epoch {}, after {} failed attempt(s))", peer.link->name(),
                 epoch_, peer.backoff.failures());
        peer.backoff.reset();
        update_ready_file();
        if (app_log_) app_log_->peer_joined(id);
        offer_resumed(id);
        // Not at once: its HEALTH follows its hello and may say it is not eligible.
        return;
    }
    if (!peer.live) return;
    if (auto* health = std::get_if<HealthRecord>(&record)) return on_peer_health(id, *health);
    if (auto* request = std::get_if<HandoverRequestRecord>(&record)) return on_handover_request(id, *request);
    if (auto* stable = std::get_if<StableRecord>(&record)) {
        auto it = conns_by_id_.find(stable->conn_id);
        if (it == conns_by_id_.end()) return;  // closed meanwhile
        lag_.before_change(*it->second);
        if (it->second->on_stable(id, stable->offset)) stable_dirty_.insert(it->second->key());
        lag_.after_change(*it->second, monotonic_us());
        return;
    }
    if (auto* refused = std::get_if<ConnRefusedRecord>(&record)) return on_conn_refused(id, *refused);
    if (auto* held = std::get_if<AppStableRecord>(&record)) {
        if (app_log_) app_log_->on_stable(id, held->offset);
        return;
    }
    if (auto* refused = std::get_if<AppRefusedRecord>(&record)) {
        log_warn("peer {}: does not hold the service's log ({}); its output is not waited for on that backup",
                 peer.link->name(), app_refuse_reason_text(refused->reason));
        if (app_log_) app_log_->drop_peer(id);
        return;
    }
    log_warn("peer {}: unexpected {} record ignored", peer.link->name(),
             record_type_name(record_type(record)));
}

void PrimaryNode::on_conn_refused(PeerId id, const ConnRefusedRecord& refused) {
    auto it = conns_by_id_.find(refused.conn_id);
    if (it == conns_by_id_.end()) return;  // closed meanwhile
    ConnReplicator& conn = *it->second;
    const tcpfo_conn_key key = conn.key();
    // That backup will never acknowledge it: it no longer holds the stable point back,
    // and gets no more of its records.
    lag_.before_change(conn);
    const bool moved = conn.drop_peer(id);
    lag_.after_change(conn, monotonic_us());
    if (!conn.has_required_peers() && resume_tails_.keeps(refused.conn_id) && awaits_followers()) {
        // A resumed connection another follower may still take (expire_resumed decides).
        log_info("{}: not held by backup {} ({}); waiting for another to resume it", label(key),
                 peers_[id.index()].link->name(), refuse_reason_text(refused.reason));
        return;
    }
    if (!conn.has_required_peers()) {
        log_warn("{}: refused by backup {} ({}); unprotected", label(key),
                 peers_[id.index()].link->name(), refuse_reason_text(refused.reason));
        note_unprotected(key, refuse_reason_text(refused.reason));
        forget_conn(key);  // lifts the clamp
        return;
    }
    log_warn("{}: refused by backup {} ({}); still protected by the others", label(key),
             peers_[id.index()].link->name(), refuse_reason_text(refused.reason));
    if (moved) stable_dirty_.insert(key);
}

void PrimaryNode::on_peer_lost(PeerId id, const std::string& why) {
    Peer& peer = peers_[id.index()];
    if ((handed_over_to_ || !silent_reason_.empty()) && peer.live) {
        // Expected: the backup closes the stream as it takes over. Nothing is retried,
        // and the hooks stay frozen whatever happens to the connections' entries.
        log_info("peer {}: replication stream closed after the handover ({})", to_string(peer.address), why);
        peer.live = false;
        peer.since_us = realtime_us();
        peer.last_error = why;
        if (app_log_) app_log_->drop_peer(id);
        lag_.reset_peer(id);  // nothing is forwarded to it any more
        return;
    }
    // A stream that never became live held no connection: only an attempt failed.
    if (!peer.live) return note_connect_failure(id, why);
    log_warn("peer {}: replication lost: {}", to_string(peer.address), why);
    peer.live = false;
    if (app_log_) app_log_->drop_peer(id);
    peer.since_us = realtime_us();
    peer.last_error = why;
    schedule_retry(id);
    // The lost peer no longer holds stable points back. A connection with no backup
    // left is no longer protected: forgetting it lifts its clamp.
    std::vector<tcpfo_conn_key> orphaned;
    const uint64_t now_us = monotonic_us();
    for (auto& [key, conn] : conns_) {
        // Dropping the peer can move the stable point, and with it what the others
        // are counted to hold.
        lag_.before_change(*conn);
        if (conn->drop_peer(id)) stable_dirty_.insert(key);
        lag_.after_change(*conn, now_us);
        if (!conn->has_required_peers()) orphaned.push_back(key);
    }
    lag_.reset_peer(id);
    for (const auto& key : orphaned) {
        log_warn("{}: no backup holds it any more; unprotected", label(key));
        note_unprotected(key, "no backup holds it any more");
        forget_conn(key);
    }
}

void PrimaryNode::on_heartbeat_tick() {
    drain_timer(tick_timer_.get());
    expire_resumed(monotonic_ms());
    // Output digests do not wake the loop (bpf/snoop.bpf.c): at the latest they leave
    // with this tick.
    if (!ring_paused_) on_ring_readable();
    const uint64_t now = monotonic_ms();
    // A primary that drops a live backup closes the stream, and the backup takes that
    // for the primary's death: two speakers. Being late to drop a dead backup only
    // stalls the clients a little longer. So backups get ten times the slack the
    // backup gives the primary (300 ms at the defaults).
    const uint64_t dead_ms =
        uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after) * kBackupSlackFactor;
    for (size_t i = 0; i < peers_.size(); ++i) {
        const PeerId id{uint16_t(i)};
        Peer& peer = peers_[i];
        if (peer.live && heartbeat_->silence_ms(id) > dead_ms && !handed_over_to_ && silent_reason_.empty()) {
            peer.link->close();
            on_peer_lost(id, fmt::format("no heartbeat for {} ms", heartbeat_->silence_ms(id)));
        }
        // A lost SYN would cost the kernel's 1 s retransmission: give up on it sooner
        // and try afresh. (Nothing reached the backup: it cannot mistake this for a
        // stream that broke.)
        const uint64_t attempt_limit_ms = std::max<uint64_t>(kConnectAttemptMinMs, dead_ms / kBackupSlackFactor * 3);
        if (!peer.live && peer.link && !peer.link->closed() && now - peer.attempt_at_ms > attempt_limit_ms &&
            peer.link->connecting()) {
            peer.link->close();
            note_connect_failure(id, fmt::format("no answer to the connect in {} ms", now - peer.attempt_at_ms));
            peer.retry_at_ms = now;  // the wait has been long enough already: again at once
        }
        if ((!peer.link || peer.link->closed()) && now >= peer.retry_at_ms) connect_peer(id);
    }
    if (now >= next_half_open_sweep_ms_) {
        next_half_open_sweep_ms_ = now + 1000;
        forget_half_open(now);
    }
    if (now >= next_holdings_ms_) {
        next_holdings_ms_ = now + kHoldingsEveryMs;
        send_holdings(now);
    }
    if (g_log_level == LogLevel::debug && now >= next_status_ms_) {
        next_status_ms_ = now + 1000;
        log_status();
    }
    // What the other nodes show of this one (its checks, lease, vote, backups' lag).
    if (auto report = report_cadence_.next(
            now, [&] { return node_report_of(status(StatusDetail::summary), heartbeat_->lease_view(), now); }))
        heartbeat_->publish_report(*report);
}

void PrimaryNode::on_cluster_event(Heartbeat::ClusterEvent event, uint64_t epoch) {
    using E = Heartbeat::ClusterEvent;
    if (handed_over_to_ || !silent_reason_.empty()) return;
    switch (event) {
        // (lease_acquired after a lapse: see fence())
        case E::lease_acquired: {
            if (vip_) return;
            auto vip = VipAddress::claim(options_.dev, options_.vip.addr, options_.vip.length);
            if (!vip) return fall_silent(fmt::format("can't claim the VIP: {}", vip.error().message));
            vip_.emplace(std::move(*vip));
            if (!fenced_.empty()) {
                log_warn("primary: lease granted again by a quorum of {} at epoch {} after {} ms without; VIP {} "
                         "claimed again, speaking", options_.quorum, epoch_, monotonic_ms() - fenced_at_ms_,
                         addr_to_string(options_.vip.addr));
                fenced_.clear();
                if (notifier_) notifier_->instance(InstanceState::master);
                notify_status("primary: lease granted again");
                return;
            }
            log_info("primary: lease granted by a quorum of {} at epoch {} ({} ms); VIP {} claimed", options_.quorum,
                     epoch_, options_.lease_ms, addr_to_string(options_.vip.addr));
            update_ready_file();
            return;
        }
        case E::lease_lapsed:
            return fence(fmt::format("lease lost at epoch {} (no quorum of {} renewed it within {} ms)", epoch_,
                                     options_.quorum, options_.lease_ms));
        case E::higher_epoch:
            return fall_silent(fmt::format("epoch {} seen, above this node's {}", epoch, epoch_));
        case E::elected: return;  // a primary does not campaign
    }
}

void PrimaryNode::fence(const std::string& why) {
    // The hooks drop the egress since the lease's deadline, whether this loop ran or
    // not; the VIP goes so that the clients' traffic finds whoever is elected next.
    fenced_ = why;
    fenced_at_ms_ = monotonic_ms();
    std::string vip = "held no VIP";
    if (vip_) {
        if (auto r = vip_->release(); !r) vip = fmt::format("can't remove the VIP: {}", r.error().message);
        else vip = fmt::format("VIP {} removed", addr_to_string(options_.vip.addr));
        vip_.reset();
    }
    if (notifier_) notifier_->instance(InstanceState::fault);
    notify_status(fmt::format("silent: {}", why));
    log_error("primary: silent: {}; egress dropped by the hooks, {}; speaks again only if a quorum grants epoch {} "
              "again (nobody else elected)", why, vip, epoch_);
}

void PrimaryNode::fall_silent(const std::string& why) {
    // Egress first: from here on nothing of a protected connection leaves (invariant 3);
    // the hooks' lease deadline already did so if the lease ran out.
    hooks_->set_frozen(true);
    heartbeat_->fall_silent();
    silent_reason_ = why;
    stepped_down_ms_ = monotonic_ms();
    std::string vip = "held no VIP";
    if (vip_) {
        if (auto r = vip_->release(); !r) vip = fmt::format("can't remove the VIP: {}", r.error().message);
        else vip = fmt::format("VIP {} removed", addr_to_string(options_.vip.addr));
        vip_.reset();
    }
    if (notifier_) notifier_->instance(InstanceState::fault);
    notify_status(fmt::format("silent: {}", why));
    log_error("primary: silent: {}; egress frozen, {}", why, vip);
}

void PrimaryNode::send_holdings(uint64_t now_ms) {
    if (handed_over_to_ || !silent_reason_.empty()) return;
    // One pass over the table per 100 ms (a few thousand entries, a few peers): cheaper
    // than keeping the counts right through every open, refusal, resume and close.
    std::vector<uint32_t> missing(peers_.size(), 0);
    for (const auto& [key, conn] : conns_)
        for (size_t i = 0; i < peers_.size(); ++i)
            if (!conn->requires_peer(PeerId{uint16_t(i)})) ++missing[i];
    for (size_t i = 0; i < peers_.size(); ++i) {
        Peer& peer = peers_[i];
        if (!peer.live || !peer.link) continue;
        const HoldingsRecord now{missing[i], uint32_t(conns_.size())};
        // On change, and once a second all the same (cheap, and it heals a lost state).
        if (peer.holdings_sent == now && now_ms - peer.holdings_sent_ms < 1000) continue;
        peer.link->send(now);
        peer.holdings_sent = now;
        peer.holdings_sent_ms = now_ms;
    }
}

std::vector<tcpfo_conn_key> PrimaryNode::protected_keys() const {
    std::vector<tcpfo_conn_key> keys;
    keys.reserve(conns_.size());
    for (const auto& [key, conn] : conns_) keys.push_back(key);
    return keys;
}

void PrimaryNode::forget_half_open(uint64_t now_ms) {
    // A pass over the table once a second rather than a set of the connections in
    // their handshake: such a set held a node for each of thousands opening at once,
    // and the freed nodes stayed resident (some 50 bytes per connection).
    std::vector<tcpfo_conn_key> stale;
    const uint64_t now_s = now_ms / 1000;
    for (const auto& [key, conn] : conns_)
        if (!conn->heard_from_client() && now_s - conn->opened_s() > kHalfOpenLimitMs / 1000) stale.push_back(key);
    for (const auto& key : stale) {
        auto it = conns_.find(key);
        if (it != conns_.end()) send_to_required(*it->second, CloseRecord{it->second->id(), CloseReason::reset_by_client});
        log_info("{}: handshake never completed; forgotten", label(key));
        forget_conn(key);
    }
}

void PrimaryNode::log_status() {
    const auto st = hooks_->stats();
    log_debug("primary: {} connection(s); hooks: {} events, {} ring drops, {} acks clamped, {} dup acks dropped, "
              "{} table full, {} socketless RSTs held",
              conns_.size(), st.events, st.ring_drops, st.acks_clamped, st.dup_acks_dropped, st.table_full,
              st.rsts_held);
    for (const auto& [key, conn] : conns_)
        log_debug("{}: forwarded {} stable {} client acked {}", conn_label(conn->id(), key),
                  conn->forwarded_offset(), conn->stable_offset(), conn->client_acked());
}

bool PrimaryNode::replication_backlogged() const {
    for (const auto& peer : peers_)
        if (peer.live && peer.link && peer.link->queued_bytes() > kPeerBacklogLimit) return true;
    return false;
}

void PrimaryNode::on_ring_readable() {
    if (handed_over_to_ || !silent_reason_.empty()) {
        // The backup has what it needs: the rest (client segments until the VIP left)
        // is drained only so the ring does not fill.
        (void)hooks_->drain([](const tcpfo_event&, std::span<const uint8_t>) {});
        return;
    }
    if (replication_backlogged()) {
        ring_paused_ = true;
        (void)loop_.modify(hooks_->event_fd(), 0);
        return;
    }
    auto drained = hooks_->drain([this](const tcpfo_event& ev, std::span<const uint8_t> payload) {
        on_snoop_event(ev, payload);
    });
    if (!drained) log_error("primary: ring buffer: {}", drained.error().message);
}

void PrimaryNode::send_to_required(const ConnReplicator& conn, const Record& record) {
    // A backup that joined after the connection opened never got its CONN_OPEN.
    for (size_t i = 0; i < peers_.size(); ++i)
        if (peers_[i].live && conn.requires_peer(PeerId{uint16_t(i)})) peers_[i].link->send(record);
}

void PrimaryNode::on_snoop_event(const tcpfo_event& ev, std::span<const uint8_t> payload) {
    if (ev.type == TCPFO_EV_SERVICE_DIED) {
        // Handled once the drain is over (after_events): a handover drains the ring
        // itself.
        if (!service_died_) service_died_ = ev.key;
        return;
    }
    if (ev.type == TCPFO_EV_CONN_OPEN) {
        required_now_.assign(peers_.size(), false);
        bool any = false;
        for (size_t i = 0; i < peers_.size(); ++i) any |= (required_now_[i] = peers_[i].live);
        if (!any) {
            // No backup to hold its bytes: leave the connection unclamped.
            hooks_->forget(ev.key);
            log_warn("{}: opened while no backup is connected; unprotected", label(ev.key));
            note_unprotected(ev.key, "opened while no backup was connected");
            return;
        }
        if (conns_.size() >= max_connections_ && !conns_.count(ev.key)) {
            hooks_->forget(ev.key);
            log_warn("{}: unprotected: the primary holds {} connections, its bound", label(ev.key),
                     conns_.size());
            return;
        }
        if (auto old = conns_.find(ev.key); old != conns_.end()) {
            // A reused 4-tuple: the old connection is gone. Its backups must drop it too
            // (else a takeover would rebuild it), and the hooks' entry, already the new
            // connection's, must stay.
            send_to_required(*old->second, CloseRecord{old->second->id(), CloseReason::finished});
            lag_.forget(*old->second);
            conns_by_id_.erase(old->second->id());
            conns_.erase(old);
            stable_dirty_.erase(ev.key);
        }
        auto conn = std::make_unique<ConnReplicator>(next_conn_id_++, ev, required_now_);
        send_to_required(*conn, conn->open_record());
        log_debug("{}: protected", label(ev.key));
        conns_by_id_[conn->id()] = conn.get();
        conns_.emplace(ev.key, std::move(conn));
        return;
    }
    auto it = conns_.find(ev.key);
    if (it == conns_.end()) return;
    ConnReplicator& conn = *it->second;
    lag_.before_change(conn);
    conn.on_event(ev, payload, [&](const Record& r) {
        // A follower that comes later gets these bytes with the tail.
        if (const auto* data = std::get_if<DataRecord>(&r); data && !resume_tails_.empty()) resume_tails_.note(*data);
        send_to_required(conn, r);
    });
    // Dated by the hook (bpf_ktime_get_ns, CLOCK_MONOTONIC): when the bytes arrived,
    // with no clock read per event here.
    lag_.after_change(conn, ev.ktime_ns / 1000);
    if (conn.reset()) forget_conn(ev.key);
    else if (conn.finished()) stable_dirty_.insert(ev.key);  // closes in flush_stable_points
}

std::string PrimaryNode::label(const ConnKey& key) const {
    auto it = conns_.find(key);
    return conn_label(it == conns_.end() ? 0 : it->second->id(), key);
}

void PrimaryNode::forget_conn(const tcpfo_conn_key& key) {
    auto it = conns_.find(key);
    if (it == conns_.end()) return;
    const bool ended = it->second->finished() || it->second->reset();
    lag_.forget(*it->second);
    resume_tails_.forget(it->second->id());
    conns_by_id_.erase(it->second->id());
    conns_.erase(it);
    hooks_->forget(key);
    // A rebuilt connection left unprotected still needs its ack ceiling and pure-ACK
    // lift while its splice serves (the client may be ahead of the rebuilt socket).
    if (rebuilt_keys_.erase(key) && !ended)
        if (auto r = hooks_->mark_rebuilt(key); !r) log_warn("{}: {}", label(key), r.error().message);
}

void PrimaryNode::flush_stable_points() {
    std::vector<tcpfo_conn_key> finished;
    for (const auto& key : stable_dirty_) {
        auto it = conns_.find(key);
        if (it == conns_.end()) continue;
        ConnReplicator& conn = *it->second;
        const uint32_t stable = conn.stable_seq();
        if (auto r = hooks_->set_stable(key, stable); !r) {
            log_error("{}: {}", label(key), r.error().message);
            continue;
        }
        // Every backup holding it holds this much: they may feed it to their replicas.
        send_to_required(conn, CommitRecord{conn.id(), conn.stable_offset()});
        // Nudge only when the client has not been told this much yet, and never past
        // the server's own ACK: the hooks log bytes the server's TCP may still drop
        // (a full receive queue), and the client must not be told those arrived.
        auto state = hooks_->conn_state(key);
        auto server_ack = hooks_->server_ack(key);
        if (state && server_ack) {
            const uint32_t ack = seq_min(stable, *server_ack);
            // Frozen (handed over): not a byte toward the clients, nudges included.
            if (seq_after(ack, state->last_sent_ack) && !handed_over_to_ && silent_reason_.empty()) {
                if (auto r = nudge_->send_ack(key, *state, ack); !r) log_warn("{}: {}", label(key), r.error().message);
            }
        }
        if (conn.finished()) finished.push_back(key);
    }
    stable_dirty_.clear();
    for (const auto& key : finished) {
        auto it = conns_.find(key);
        if (it == conns_.end()) continue;
        send_to_required(*it->second, CloseRecord{it->second->id(), CloseReason::finished});
        forget_conn(key);
    }
}

void PrimaryNode::after_events() {
    heartbeat_->main_loop_alive();
    if (service_died_ && !service_death_handled_) on_service_died();
    flush_stable_points();
    for (auto& peer : peers_)
        if (peer.live && peer.link) peer.link->flush();
    if (app_log_) app_log_->pause_reading(replication_backlogged());
    if (ring_paused_ && !replication_backlogged()) {
        ring_paused_ = false;
        (void)loop_.modify(hooks_->event_fd(), EPOLLIN);
        on_ring_readable();
    }
}

Result<ControlServer::ServiceOffer> PrimaryNode::offer_service(int pid) {
    // One service per daemon's life: its replicas started with it, from the same
    // state; a second log would find them somewhere else.
    if (app_log_pid_ != 0)
        return fail("a service (pid {}) already recorded its log under this failoverd; restart the service and "
                    "its replicas together with failoverd on every node", app_log_pid_);
    ControlServer::ServiceOffer offer;
    offer.mode = "record";
    offer.take = [this, pid](UniqueFd fd, std::string leftover) {
        app_log_pid_ = pid;
        std::vector<bool> holders(peers_.size(), false);
        for (size_t i = 0; i < peers_.size(); ++i) holders[i] = peers_[i].live;
        auto relay = AppLogRelay::open(
            loop_, std::move(fd), std::move(leftover), pid, std::move(holders), [this](PeerId id, const Record& r) {
                if (peers_[id.index()].live) peers_[id.index()].link->send(r);
            });
        if (!relay) return log_error("service pid {}: can't relay its log: {}", pid, relay.error().message);
        app_log_ = std::move(*relay);
    };
    return offer;
}

void PrimaryNode::update_ready_file() {
    // With leases, ready means serving too: a lease held and the VIP claimed.
    if (ready_written_ || !vip_) return;
    for (const auto& peer : peers_)
        if (!peer.live) return;
    if (!options_.ready_file.empty()) std::ofstream(options_.ready_file) << "primary\n";
    ready_written_ = true;
    notify_ready(fmt::format("primary: {} backup(s) connected", peers_.size()));
    log_info("primary: ready (every peer connected)");
}

}  // namespace tcpfo
