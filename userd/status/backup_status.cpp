// BackupNode's status for the control socket: the primary's stream, each replicated
// connection, and after a takeover which connections were rebuilt.
#include <algorithm>

#include "userd/backup/backup_node.h"
#include "userd/base/inet_address.h"
#include "userd/status/node_sources.h"

namespace tcpfo {

namespace {

ConnStatus feed_status(uint64_t id, const ReplicaFeed& f) {
    ConnStatus c;
    c.id = id;
    c.client_addr = f.conn().client_addr;
    c.client_port = f.conn().client_port;
    c.phase = f.broken() ? "replica-failed" : "replicating";
    c.is_protected = !f.broken();
    if (f.broken()) c.why_not = "the replica connection failed; it cannot be taken over";
    c.client_logged = f.log().end();
    c.client_stable = f.stable_sent;
    c.client_fed = f.log().fed();
    c.replica_produced = f.output().produced();
    c.server_acked = f.output().acked();
    c.diverged_at = f.output().diverged_at();
    return c;
}

}  // namespace

std::vector<ConnStatus> BackupNode::feed_statuses() const {
    std::vector<ConnStatus> out;
    out.reserve(feeds_.size());
    for (const auto& [id, f] : feeds_) out.push_back(feed_status(id, *f));
    return out;
}

void BackupNode::note_takeover_begun(const std::string& why) {
    TakeoverStatus t;
    t.reason = why;
    t.epoch = epoch_;
    t.started_us = realtime_us();
    takeover_status_ = std::move(t);
    // The connections are listed once the takeover serves (note_takeover_result):
    // building 10,000 statuses here would delay every one of them.
}

void BackupNode::note_takeover_result() {
    if (!takeover_status_ || !takeover_) return;
    TakeoverStatus& t = *takeover_status_;
    const Takeover::Report& r = takeover_->report();
    t.finished_us = realtime_us();
    t.total_ms = (t.finished_us - t.started_us) / 1000;
    t.succeeded = true;
    t.step = step_name(takeover_->step());
    t.rebuilt = r.rebuilt;
    t.reset = r.reset;
    t.reset_diverged = r.reset_diverged;
    t.claim_attempts = r.claim_attempts;
    t.positions_learned = r.positions_learned;
    t.prompted = r.prompted;
    t.claimed_ms = r.claimed_ms;
    t.probed_ms = r.probed_ms;
    t.learned_ms = r.learned_ms;
    t.drained_ms = r.drained_ms;
    t.rebuilt_ms = r.rebuilt_ms;
    t.serving_ms = r.serving_ms;
    // The feeds as they stood when spliced or reset, in connection order.
    auto feeds = takeover_->take_retired_feeds();
    std::sort(feeds.begin(), feeds.end(), [](const auto& a, const auto& b) { return a->conn().conn_id < b->conn().conn_id; });
    takeover_conns_.clear();
    takeover_conns_.reserve(feeds.size());
    for (const auto& f : feeds) takeover_conns_.push_back(feed_status(f->conn().conn_id, *f));
    feeds.clear();
    for (auto& c : takeover_conns_) {
        c.rebuilt = takeover_->has_splice(c.id);
        if (*c.rebuilt) continue;
        auto why = takeover_->resets().find(c.id);
        c.not_rebuilt_why = why != takeover_->resets().end() ? "reset toward the client: " + why->second
                            : c.is_protected                 ? "closed before the splice started"
                                                             : c.why_not;
    }
}

NodeStatus BackupNode::status(StatusDetail detail) const {
    NodeStatus s;
    const bool serving = takeover_ && takeover_->serving();
    s.role = !silent_reason_.empty()  ? "silent"
             : !fenced_.empty()       ? "fenced"
             : serving                ? "taken-over-primary"
             : takeover_              ? "taking-over"
             : !campaign_why_.empty() ? "candidate"
                                      : "backup";
    s.lease = lease_status(heartbeat_->lease_view(), bool(takeover_), !silent_reason_.empty() ? silent_reason_ : fenced_);
    s.cluster = cluster_status(heartbeat_->peer_views());
    if (holdings_) s.holdings = NodeStatus::Holdings{holdings_->missing, holdings_->protected_count, holds_every_connection_};
    s.epoch = epoch_;
    PeerStatus primary;
    primary.address = to_string(primary_address());
    const bool streaming = primary_ && !primary_->closed();
    primary.state = !primary_seen_ ? "waiting" : streaming && !takeover_ ? "live" : "lost";
    primary.queued_bytes = streaming ? primary_->queued_bytes() : 0;
    LinkCounters carried = replaced_links_;
    if (primary_) carried += primary_->counters();
    primary.records_sent = carried.records_sent;
    primary.bytes_sent = carried.bytes_sent;
    primary.records_received = carried.records_received;
    primary.bytes_received = carried.bytes_received;
    s.peers.push_back(std::move(primary));
    if (hooks_) s.hooks = hook_counters(hooks_->stats());
    s.takeover = takeover_status_;
    if (health_) s.health = health_->status();
    if (app_log_ && (app_log_->pid() != 0 || app_log_->started() || app_log_->refused())) {
        ServiceLogStatus svc;
        svc.pid = app_log_->pid();
        svc.mode = "replay";
        svc.open = app_log_->attached();
        svc.log_bytes = app_log_->received();
        svc.held = app_log_->delivered();
        if (auto r = app_log_->refusal()) svc.refused = app_refuse_reason_text(*r);
        svc.feeder_names = app_log_->names_sent();
        svc.names_waiting = app_log_->names_waiting();
        const auto held = app_log_->held_accept();
        svc.accept_held = held ? fmt::format("{}:{}", addr_to_string(htonl(held->first)), held->second) : "";
        s.service = std::move(svc);
    }
    const OutputCheckTotals& checks = output_check_totals();
    s.output_check = OutputCheckStatus{checks.checked_bytes, checks.unchecked_spans, checks.diverged};
    s.auth = auth_status(options_.keys.get(), heartbeat_ ? &heartbeat_->drops() : nullptr, stream_drops_);
    if (s.takeover && takeover_ && !serving) s.takeover->step = step_name(takeover_->step());
    s.takeovers = takeover_status_ ? 1 : 0;  // roles do not move yet: one at most
    if (!takeover_status_) {
        uint64_t healthy = 0, stable_lag = 0;
        for (const auto& [id, f] : feeds_) {
            healthy += f->broken() ? 0 : 1;
            stable_lag += f->log().end() - std::min(f->stable_sent, f->log().end());
        }
        s.conns_protected = healthy;
        s.conns_unprotected = feeds_.size() - healthy;
        s.stable_lag_bytes = stable_lag;
        if (detail == StatusDetail::summary) return s;
        s.conns = feed_statuses();
        s.diverged = uint64_t(std::count_if(s.conns.begin(), s.conns.end(), [](const ConnStatus& c) { return c.diverged_at.has_value(); }));
        return s;
    }
    if (takeover_ && serving) {
        // Splices go on checking the replica's output after the takeover served.
        const Takeover::Report& r = takeover_->report();
        s.takeover->rebuilt = r.rebuilt;
        s.takeover->reset = r.reset;
        s.takeover->reset_diverged = r.reset_diverged;
        s.conns_spliced = takeover_->live_splices();
    }
    if (detail == StatusDetail::summary) return s;
    s.conns = takeover_conns_;
    for (auto& c : s.conns) {
        if (c.rebuilt && *c.rebuilt)
            c.phase = takeover_->has_splice(c.id) ? "spliced" : "done";
        else if (c.rebuilt)
            c.phase = "not-rebuilt";
        // Served by the splice, held by no backup: a crash of this node resets them.
        if (!rebuilt_unprotected_why_.empty() && c.phase == "spliced") {
            c.is_protected = false;
            c.why_not = rebuilt_unprotected_why_;
        }
    }
    return s;
}

}  // namespace tcpfo
