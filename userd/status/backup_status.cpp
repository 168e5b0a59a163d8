// BackupNode's status for the control socket: the primary's stream, each replicated
// connection, and after a takeover which connections were rebuilt.
#include "userd/backup/backup_node.h"
#include "userd/base/inet_address.h"
#include "userd/status/node_sources.h"

namespace tcpfo {

std::vector<ConnStatus> BackupNode::feed_statuses() const {
    std::vector<ConnStatus> out;
    out.reserve(feeds_.size());
    for (const auto& [id, f] : feeds_) {
        ConnStatus c;
        c.id = id;
        c.client_addr = f->conn().client_addr;
        c.client_port = f->conn().client_port;
        c.phase = f->broken() ? "replica-failed" : "replicating";
        c.is_protected = !f->broken();
        if (f->broken()) c.why_not = "the replica connection failed; it cannot be taken over";
        c.client_logged = f->log().end();
        const auto sent = stable_sent_.find(id);
        c.client_stable = sent == stable_sent_.end() ? 0 : sent->second;
        c.client_fed = f->log().fed();
        c.replica_produced = f->output().produced();
        c.server_acked = f->output().acked();
        out.push_back(std::move(c));
    }
    return out;
}

void BackupNode::note_takeover_begun(const std::string& why) {
    TakeoverStatus t;
    t.reason = why;
    t.epoch = epoch_;
    t.started_us = realtime_us();
    takeover_status_ = std::move(t);
    takeover_conns_ = feed_statuses();
}

void BackupNode::note_takeover_result(const Result<TakeoverOutcome>& outcome) {
    if (!takeover_status_) return;
    TakeoverStatus& t = *takeover_status_;
    t.finished_us = realtime_us();
    t.total_ms = (t.finished_us - t.started_us) / 1000;
    if (!outcome) {
        t.error = outcome.error().message;
        for (auto& c : takeover_conns_) {
            c.rebuilt = false;
            c.not_rebuilt_why = "the takeover failed";
        }
        return;
    }
    t.succeeded = true;
    t.rebuilt = outcome->rebuilt;
    t.skipped = outcome->skipped;
    t.drain_ms = outcome->drain_ms;
    t.rebuild_ms = outcome->rebuild_ms;
    t.claim_ms = outcome->claim_ms;
    for (auto& c : takeover_conns_) {
        c.rebuilt = outcome->splices.count(c.id) > 0;
        if (!*c.rebuilt)
            c.not_rebuilt_why = c.is_protected ? "the rebuild or the splice failed (see the log)" : c.why_not;
    }
}

NodeStatus BackupNode::status() const {
    NodeStatus s;
    const bool failed = takeover_status_ && takeover_status_->finished_us && !takeover_status_->succeeded;
    s.role = took_over_ ? "taken-over-primary" : failed ? "takeover-failed" : taking_over_ ? "taking-over" : "backup";
    s.epoch = epoch_;
    PeerStatus primary;
    primary.address = to_string(options_.peers[0]);
    const bool streaming = primary_ && !primary_->closed();
    primary.state = !primary_seen_ ? "waiting" : streaming && !taking_over_ && !took_over_ ? "live" : "lost";
    primary.queued_bytes = streaming ? primary_->queued_bytes() : 0;
    s.peers.push_back(std::move(primary));
    if (snoop_) s.hooks = hook_counters(snoop_->stats());
    s.takeover = takeover_status_;
    if (!takeover_status_) {
        s.conns = feed_statuses();
        return s;
    }
    s.conns = takeover_conns_;
    for (auto& c : s.conns) {
        if (c.rebuilt && *c.rebuilt)
            c.phase = took_over_ && took_over_->splices.count(c.id) ? "spliced" : "done";
        else if (c.rebuilt)
            c.phase = "not-rebuilt";
    }
    return s;
}

}  // namespace tcpfo
