// PrimaryNode's status for the control socket: peers, protected connections, and
// the connections it recently gave up protecting.
#include <arpa/inet.h>

#include <algorithm>

#include "userd/base/inet_address.h"
#include "userd/base/seq.h"
#include "userd/primary/primary_node.h"
#include "userd/status/node_sources.h"

namespace tcpfo {

namespace {
constexpr size_t kRecentUnprotected = 256;

// Every client byte below this was forwarded to the backups. The replicator's own
// offset only counts bytes forwarded in order (a segment above a gap is forwarded but
// not counted); what the backups hold was forwarded.
uint64_t forwarded_offset(const ConnReplicator& conn) {
    return std::max(conn.forwarded_offset(), conn.stable_offset());
}
}  // namespace

void PrimaryNode::note_unprotected(const tcpfo_conn_key& key, const char* why) {
    ++unprotected_total_;
    unprotected_.push_back({key.client_addr, ntohs(key.client_port), why, realtime_us()});
    if (unprotected_.size() > kRecentUnprotected) unprotected_.pop_front();
}

NodeStatus PrimaryNode::status(StatusDetail detail) const {
    NodeStatus s;
    // Handed over: frozen and without the VIP, until the operator stops it.
    s.role = handed_over_to_             ? "handed-over"
             : !silent_reason_.empty()   ? "silent"
             : !fenced_.empty()          ? "fenced"
                                         : "primary";
    s.serves_as_primary = !handed_over_to_ && silent_reason_.empty() && fenced_.empty();
    s.lease = lease_status(heartbeat_->lease_view(), true, !silent_reason_.empty() ? silent_reason_ : fenced_);
    s.cluster = cluster_status(heartbeat_->peer_views());
    s.auth = auth_status(options_.keys.get(), heartbeat_ ? &heartbeat_->drops() : nullptr, stream_drops_);
    if (app_log_) {
        ServiceLogStatus svc;
        svc.pid = app_log_->pid();
        svc.mode = "record";
        svc.open = !app_log_->closed();
        svc.log_bytes = app_log_->received();
        svc.held = app_log_->held();
        svc.holders = app_log_->holders();
        s.service = std::move(svc);
    }
    s.epoch = epoch_;
    if (checks_) s.health = checks_->status();
    const uint64_t now = monotonic_ms();
    const uint64_t now_us = monotonic_us();
    for (size_t i = 0; i < peers_.size(); ++i) {
        const Peer& p = peers_[i];
        PeerStatus ps;
        ps.address = to_string(p.address);
        const bool connected = p.link && !p.link->closed();
        ps.state = p.live ? "live" : p.ever_live ? "lost" : "connecting";
        ps.since_us = p.since_us;
        ps.connected_us = p.connected_us;
        ps.queued_bytes = connected ? p.link->queued_bytes() : 0;
        LinkCounters carried = p.replaced;
        if (p.link) carried += p.link->counters();
        ps.records_sent = carried.records_sent;
        ps.bytes_sent = carried.bytes_sent;
        ps.records_received = carried.records_received;
        ps.bytes_received = carried.bytes_received;
        uint64_t lag = 0;
        for (const auto& [key, conn] : conns_) {
            if (!conn->requires_peer(PeerId{uint16_t(i)})) continue;
            const uint64_t held = conn->peer_stable(PeerId{uint16_t(i)});
            lag += forwarded_offset(*conn) - std::min(held, forwarded_offset(*conn));
        }
        ps.lag_bytes = lag;
        ps.lag_us = lag_.peer(PeerId{uint16_t(i)}).lag_us(now_us);
        if (!p.live) {
            ps.failed_attempts = p.backoff.failures();
            ps.retry_interval_ms = p.backoff.peek_ms();
            if (!connected) ps.retry_in_ms = p.retry_at_ms > now ? p.retry_at_ms - now : 0;
            ps.last_error = p.last_error;
        }
        if (p.health_heard) ps.health = PeerHealthStatus{p.eligible, p.ineligible_reason};
        s.peers.push_back(std::move(ps));
    }
    if (hooks_) s.hooks = hook_counters(hooks_->stats());
    s.unprotected.assign(unprotected_.begin(), unprotected_.end());
    s.unprotected_total = unprotected_total_;
    s.conns_protected = conns_.size();  // the primary forgets the connections it does not protect
    uint64_t stable_lag = 0;
    for (const auto& [key, conn] : conns_) stable_lag += forwarded_offset(*conn) - conn->stable_offset();
    s.stable_lag_bytes = stable_lag;
    if (detail == StatusDetail::summary) return s;

    s.conns.reserve(conns_.size());
    for (const auto& [key, conn] : conns_) {
        ConnStatus c;
        c.id = conn->id();
        c.client_addr = key.client_addr;
        c.client_port = ntohs(key.client_port);
        c.phase = !conn->heard_from_client() ? "handshake" : conn->closing() ? "closing" : "open";
        c.is_protected = true;  // the primary forgets the connections it does not protect
        c.client_forwarded = forwarded_offset(*conn);
        c.client_stable = conn->stable_offset();
        c.server_acked = conn->client_acked();
        s.conns.push_back(std::move(c));
    }
    std::sort(s.conns.begin(), s.conns.end(), [](const ConnStatus& a, const ConnStatus& b) { return a.id < b.id; });
    // The server's send sequence lives in the BPF map: one lookup per connection,
    // done as each piece of the answer is rendered. The control server drops this
    // before the node goes away (ControlServer::set_status_source).
    s.complete = [hooks = hooks_.get(), vip = options_.vip.addr, port = options_.port](ConnStatus& c) {
        if (!hooks) return;
        const tcpfo_conn_key key{c.client_addr, vip, htons(c.client_port), htons(port)};
        auto state = hooks->conn_state(key);
        if (!state) return;  // closed since the snapshot
        c.server_sent = seq_to_offset(state->snd_nxt, state->server_isn + 1, c.server_acked.value_or(0));
    };
    return s;
}

}  // namespace tcpfo
