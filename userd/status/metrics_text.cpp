#include "userd/status/metrics_text.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace tcpfo {
namespace {

// Builds the exposition: each family's HELP and TYPE lines once, then its samples.
// The format wants a family's samples together, which the callers below keep.
class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
    }
    // `labels` is empty or a list already escaped: peer="192.0.2.11:7100"
    void sample(std::string_view name, std::string_view labels, uint64_t value) {
        out_ += labels.empty() ? fmt::format("{} {}\n", name, value) : fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
    void sample(std::string_view name, std::string_view labels, double value) {
        out_ += labels.empty() ? fmt::format("{} {}\n", name, value) : fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
    // A family of one unlabelled sample.
    template <class T>
    void single(std::string_view name, std::string_view type, std::string_view help, T value) {
        family(name, type, help);
        sample(name, {}, value);
    }
    std::string take() { return std::move(out_); }

private:
    static std::string escape_help(std::string_view help) {
        std::string out;
        for (char c : help) {
            if (c == '\\') out += "\\\\";
            else if (c == '\n') out += "\\n";
            else out += c;
        }
        return out;
    }
    std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
    return fmt::format("{}=\"{}\"", name, escape_label_value(value));
}

// What each BPF hook counter (node_sources.h, hook_counters) counts. A counter missing
// here is still exported, with a plain help line.
std::string_view hook_help(std::string_view name) {
    static constexpr std::pair<std::string_view, std::string_view> helps[] = {
        {"events", "Records the BPF hooks wrote to the ring buffer."},
        {"ring_drops", "Records lost because the ring buffer was full."},
        {"acks_clamped", "Egress ACKs lowered to the stable point."},
        {"dup_acks_dropped", "Clamped pure ACKs dropped as duplicates."},
        {"table_full", "Connections left unprotected because a BPF table was full."},
        {"socketless_rsts_held", "Kernel RSTs of protected connections without a socket, dropped."},
        {"acks_ceiled", "Ingress ACKs lowered to a rebuilt socket's snd_nxt (after a takeover)."},
        {"pure_acks_lifted", "Rebuilt sockets' pure ACKs lifted into the client's window (after a takeover)."},
        {"held_segments_dropped", "Client segments of connections held during a takeover, dropped."},
        {"takeover_segments_dropped", "Segments of no known connection dropped in takeover mode."},
        {"output_digest_failures", "Server segments whose payload could not be digested."},
        {"frozen_segments_dropped", "Egress segments from VIP:PORT dropped while frozen (handover)."},
        {"acks_sent_by_socket", "Kernel module: ACKs the server's socket sent as the stable point moved."},
        {"client_data_refused",
         "Client segments whose payload the server's TCP refuses (bad checksum, beyond its window, acking unsent data), "
         "not logged."},
        {"lease_segments_dropped", "Egress segments from VIP:PORT dropped because the lease had run out."},
    };
    for (const auto& [n, help] : helps)
        if (n == name) return help;
    return "A counter of the BPF hooks.";
}

void role_and_epoch(Exposition& e, const NodeStatus& s) {
    e.family("tcpfo_role", "gauge", "1 for the role this node has now, 0 for the others.");
    for (std::string_view role : kRoles) e.sample("tcpfo_role", label("role", role), uint64_t(s.role == role ? 1 : 0));
    e.single("tcpfo_epoch", "gauge", "The epoch this node is at; it grows at every takeover.", s.epoch);
    e.single("tcpfo_start_time_seconds", "gauge", "When failoverd started, in seconds since the Unix epoch.",
             double(s.started_us) / 1e6);
}

void peers(Exposition& e, const NodeStatus& s) {
    if (s.peers.empty()) return;
    // One family at a time, every peer in it.
    auto each_peer = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
        e.family(name, type, help);
        for (const PeerStatus& p : s.peers) e.sample(name, label("peer", p.address), uint64_t(value(p)));
    };
    each_peer("tcpfo_peer_up", "gauge", "1 while the replication stream with this peer is live.",
              [](const PeerStatus& p) { return p.state == "live" ? 1 : 0; });
    each_peer("tcpfo_replication_sent_records_total", "counter", "Replication records sent to this peer.",
              [](const PeerStatus& p) { return p.records_sent; });
    each_peer("tcpfo_replication_sent_bytes_total", "counter",
              "Replication bytes written to this peer's stream (records and framing).",
              [](const PeerStatus& p) { return p.bytes_sent; });
    each_peer("tcpfo_replication_received_records_total", "counter", "Replication records received from this peer.",
              [](const PeerStatus& p) { return p.records_received; });
    each_peer("tcpfo_replication_received_bytes_total", "counter", "Replication bytes received from this peer.",
              [](const PeerStatus& p) { return p.bytes_received; });
    each_peer("tcpfo_replication_queued_bytes", "gauge", "Replication bytes queued for this peer, not yet written.",
              [](const PeerStatus& p) { return p.queued_bytes; });
    bool any_lag = false;
    for (const PeerStatus& p : s.peers) any_lag = any_lag || p.lag_bytes.has_value();
    if (!any_lag) return;
    e.family("tcpfo_replication_lag_bytes", "gauge",
             "Client bytes forwarded to this peer that it has not acknowledged yet (primary).");
    for (const PeerStatus& p : s.peers)
        if (p.lag_bytes) e.sample("tcpfo_replication_lag_bytes", label("peer", p.address), *p.lag_bytes);
    bool any_lag_time = false;
    for (const PeerStatus& p : s.peers) any_lag_time = any_lag_time || p.lag_us.has_value();
    if (!any_lag_time) return;
    e.family("tcpfo_replication_lag_seconds", "gauge",
             "How long the oldest client byte forwarded to this peer, and not yet acknowledged (held) by it, has "
             "waited; 0 when the peer holds every byte forwarded to it (primary).");
    for (const PeerStatus& p : s.peers)
        if (p.lag_us) e.sample("tcpfo_replication_lag_seconds", label("peer", p.address), double(*p.lag_us) / 1e6);
}

void connections(Exposition& e, const NodeStatus& s) {
    e.single("tcpfo_connections_protected", "gauge",
             "Connections this node protects now (primary: replicated to its backups; backup: replicated here, "
             "replica healthy; 0 after a takeover).",
             s.conns_protected);
    if (s.conns_unprotected)
        e.single("tcpfo_connections_unprotected", "gauge",
                 "Connections held here that cannot be taken over: their replica connection failed (backup).",
                 *s.conns_unprotected);
    if (s.role == "primary" || s.role == "handed-over")
        e.single("tcpfo_connections_unprotected_total", "counter",
                 "Connections the primary did not protect, or stopped protecting, since start.", s.unprotected_total);
    if (s.conns_spliced)
        e.single("tcpfo_connections_spliced", "gauge",
                 "Connections rebuilt at the takeover and still open, joined with the replica.", *s.conns_spliced);
    if (s.stable_lag_bytes)
        e.single("tcpfo_stable_point_lag_bytes", "gauge",
                 "Client bytes the stable point has not reached yet, over every connection (primary: forwarded, not "
                 "held by every backup; backup: logged, not yet acknowledged).",
                 *s.stable_lag_bytes);
}

void takeover(Exposition& e, const NodeStatus& s) {
    // A primary never takes over (roles do not move yet): only a backup says how many.
    if (s.role == "primary" || s.role == "handed-over") return;
    e.single("tcpfo_takeovers_total", "counter", "Takeovers this node began.", s.takeovers);
    const TakeoverStatus* t = s.takeover ? &*s.takeover : nullptr;
    const bool complete = t && t->finished_us != 0 && t->succeeded;
    e.single("tcpfo_connections_rebuilt_total", "counter", "Connections rebuilt at a takeover.",
             uint64_t(complete ? t->rebuilt : 0));
    e.family("tcpfo_connections_reset_total", "counter",
             "Connections reset toward their clients at or after a takeover, by reason: diverged (the replica's "
             "output differed from the primary's) or other (could not be rebuilt or continued).");
    const uint64_t diverged = complete ? t->reset_diverged : 0;
    const uint64_t all = complete ? t->reset : 0;
    e.sample("tcpfo_connections_reset_total", label("reason", "diverged"), diverged);
    e.sample("tcpfo_connections_reset_total", label("reason", "other"), all - std::min(diverged, all));
    if (complete)
        e.single("tcpfo_takeover_duration_seconds", "gauge",
                 "How long the last takeover took, from the decision to serving.",
                 // In µs: a takeover of a few idle connections takes less than a millisecond.
                 double(t->finished_us - std::min(t->started_us, t->finished_us)) / 1e6);
}

void output_check(Exposition& e, const NodeStatus& s) {
    if (!s.output_check) return;
    const OutputCheckStatus& c = *s.output_check;
    e.single("tcpfo_output_divergences_total", "counter",
             "Connections whose replica's output differed from the primary's (backup).", c.diverged_total);
    e.single("tcpfo_output_checked_bytes_total", "counter",
             "Replica output bytes that matched the primary's digests (backup).", c.checked_bytes);
    e.single("tcpfo_output_unchecked_spans_total", "counter",
             "Output digests of the primary that could not be checked (backup).", c.unchecked_spans);
}

void hooks(Exposition& e, const NodeStatus& s) {
    for (const auto& [name, value] : s.hooks)
        e.single(fmt::format("tcpfo_hook_{}_total", name), "counter", hook_help(name), value);
}

// Present only with checks configured: a node without them has nothing to say.
void health(Exposition& e, const NodeStatus& s) {
    if (!s.health) return;
    const HealthStatus& h = *s.health;
    e.single("tcpfo_health_eligible", "gauge",
             "1 while every health check of this node's service is up (a backup may take over), else 0.",
             uint64_t(h.eligible ? 1 : 0));
    e.family("tcpfo_health_check_up", "gauge", "1 while the health check is up, 0 while it is down.");
    for (const auto& c : h.checks) e.sample("tcpfo_health_check_up", label("check", c.name), uint64_t(c.state == "up"));
    e.family("tcpfo_health_check_latency_seconds", "gauge", "How long the check's last run took.");
    for (const auto& c : h.checks)
        e.sample("tcpfo_health_check_latency_seconds", label("check", c.name), c.latency_ms / 1000);
    e.family("tcpfo_health_check_failures_total", "counter", "Runs of the check that failed, since start.");
    for (const auto& c : h.checks) e.sample("tcpfo_health_check_failures_total", label("check", c.name), c.failures);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void lease(Exposition& e, const NodeStatus& s) {
    if (!s.lease) return;
    const LeaseStatus& l = *s.lease;
    e.single("tcpfo_lease_enforced", "gauge", "1 when leases are enforced (a quorum), 0 in two-node mode.",
             uint64_t(l.mode == "quorum" ? 1 : 0));
    if (l.held) {
        e.single("tcpfo_lease_held", "gauge", "1 while this primary holds its lease (it may speak).",
                 uint64_t(*l.held ? 1 : 0));
        e.single("tcpfo_lease_remaining_seconds", "gauge", "How long this primary's lease still runs.",
                 double(l.remaining_ms.value_or(0)) / 1e3);
    }
    e.single("tcpfo_silent", "gauge", "1 once this node fell silent (lease lost or a higher epoch seen).",
             uint64_t(l.silent.empty() ? 0 : 1));
    e.single("tcpfo_vote_epoch", "gauge", "The highest epoch this node's vote granted.", l.voted_epoch);
    e.single("tcpfo_vote_promise_remaining_seconds", "gauge",
             "How long this node's promise not to vote for another node still runs.",
             double(l.promise_remaining_ms) / 1e3);
    e.single("tcpfo_vote_grants_total", "counter", "Heartbeats of primaries and candidates this node granted.",
             l.grants);
    e.single("tcpfo_vote_refusals_total", "counter", "Heartbeats of primaries and candidates this node refused.",
             l.refusals);
}

// The other nodes as their last NODE_REPORTs describe them (docs/protocol.md, "Node
// reports"), labelled by node address; none for a node that never sent one.
void cluster(Exposition& e, const NodeStatus& s) {
    std::vector<const ClusterPeerStatus*> reporting;
    for (const ClusterPeerStatus& c : s.cluster)
        if (c.report) reporting.push_back(&c);
    if (reporting.empty()) return;
    e.family("tcpfo_cluster_report_age_seconds", "gauge", "How old the node's last report is.");
    for (const auto* c : reporting)
        e.sample("tcpfo_cluster_report_age_seconds", label("node", c->address), double(c->report->age_ms) / 1e3);
    e.family("tcpfo_cluster_eligible", "gauge",
             "1 while every health check of the node is up, by its last report (a backup may take over).");
    for (const auto* c : reporting)
        e.sample("tcpfo_cluster_eligible", label("node", c->address), uint64_t(c->report->eligible));
    e.family("tcpfo_cluster_check_up", "gauge", "1 while the node's health check is up, by its last report.");
    for (const auto* c : reporting)
        for (const auto& check : c->report->checks)
            e.sample("tcpfo_cluster_check_up", label("node", c->address) + "," + label("check", check.name),
                     uint64_t(check.state == "up"));
    e.family("tcpfo_cluster_lease_held", "gauge", "1 while the node holds a primary's lease, by its last report.");
    for (const auto* c : reporting)
        e.sample("tcpfo_cluster_lease_held", label("node", c->address), uint64_t(c->report->lease_held));
    e.family("tcpfo_cluster_backup_lag_bytes", "gauge",
             "Client bytes the primary `node` forwarded to `backup` that it has not acknowledged, by the primary's "
             "last report.");
    for (const auto* c : reporting)
        for (const auto& b : c->report->backups)
            e.sample("tcpfo_cluster_backup_lag_bytes", label("node", c->address) + "," + label("backup", b.address),
                     b.lag_bytes);
    e.family("tcpfo_cluster_backup_lag_seconds", "gauge",
             "How long the oldest of those bytes had waited, by the primary's last report.");
    for (const auto* c : reporting)
        for (const auto& b : c->report->backups)
            e.sample("tcpfo_cluster_backup_lag_seconds", label("node", c->address) + "," + label("backup", b.address),
                     double(b.lag_ms) / 1e3);
}

std::string render_metrics(const NodeStatus& status) {
    Exposition e;
    role_and_epoch(e, status);
    peers(e, status);
    connections(e, status);
    takeover(e, status);
    output_check(e, status);
    hooks(e, status);
    health(e, status);
    lease(e, status);
    cluster(e, status);
    return e.take();
}

}  // namespace tcpfo
