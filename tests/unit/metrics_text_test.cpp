// The metrics exposition: the figures a status holds come out under the names
// docs/operations.md lists, and the text is what the Prometheus text format (0.0.4)
// accepts: every family's HELP and TYPE once, before its samples; counters named
// _total; label values escaped.
#include "userd/status/metrics_text.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

NodeStatus primary_status() {
    NodeStatus s;
    s.role = "primary";
    s.epoch = 1;
    s.started_us = 1700000000250000;
    PeerStatus p;
    p.address = "192.0.2.11:7100";
    p.state = "live";
    p.queued_bytes = 7;
    p.records_sent = 120;
    p.bytes_sent = 65536;
    p.records_received = 30;
    p.bytes_received = 900;
    p.lag_bytes = 4096;
    p.lag_us = 12500;
    s.peers.push_back(p);
    s.hooks = {{"events", 207}, {"ring_drops", 0}, {"acks_clamped", 61}};
    s.unprotected_total = 2;
    s.conns_protected = 10;
    s.stable_lag_bytes = 4096;
    return s;
}

NodeStatus backup_after_takeover() {
    NodeStatus s;
    s.role = "taken-over-primary";
    s.epoch = 2;
    PeerStatus p;
    p.address = "192.0.2.10:7100";
    p.state = "lost";
    p.records_received = 500;
    p.bytes_received = 123456;
    s.peers.push_back(p);
    TakeoverStatus t;
    t.epoch = 2;
    t.started_us = 1000;
    t.finished_us = 42650;  // 41.65 ms: the gauge is in µs, not the rounded total_ms
    t.succeeded = true;
    t.rebuilt = 8;
    t.reset = 3;
    t.reset_diverged = 1;
    t.total_ms = 42;
    s.takeover = t;
    s.takeovers = 1;
    s.conns_spliced = 7;
    s.output_check = OutputCheckStatus{5000, 2, 1};
    s.hooks = {{"events", 0}, {"acks_ceiled", 12}};
    return s;
}

// The exposition, parsed as a scraper would: name{labels} -> value, and each family's
// TYPE. Fails the test on any line the format does not allow.
struct Parsed {
    std::map<std::string, std::string> samples;  // "name{labels}" -> value text
    std::map<std::string, std::string> types;    // family -> counter | gauge
};

Parsed parse(const std::string& text) {
    static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
    static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
    static const std::regex sample(
        R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9][0-9.e+-]*))");
    Parsed out;
    std::set<std::string> helped, families_done;
    std::string current;
    std::istringstream lines(text);
    std::string line;
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "the last line needs its newline";
    while (std::getline(lines, line)) {
        std::smatch m;
        if (std::regex_match(line, m, help)) {
            EXPECT_TRUE(helped.insert(m[1]).second) << "a second HELP for " << m[1];
            EXPECT_FALSE(families_done.count(m[1])) << m[1] << " comes in two pieces";
            if (!current.empty()) families_done.insert(current);
            current = m[1];
        } else if (std::regex_match(line, m, type)) {
            EXPECT_EQ(m[1], current) << "TYPE without its HELP just before: " << line;
            EXPECT_TRUE(out.types.emplace(m[1], m[2]).second) << "a second TYPE for " << m[1];
        } else if (std::regex_match(line, m, sample)) {
            EXPECT_EQ(m[1], current) << "a sample outside its family: " << line;
            EXPECT_TRUE(out.samples.emplace(std::string(m[1]) + std::string(m[2]), m[3]).second) << "twice: " << line;
        } else {
            ADD_FAILURE() << "not a line of the text format: '" << line << "'";
        }
    }
    for (const auto& [family, t] : out.types) {
        EXPECT_EQ(t == "counter", family.ends_with("_total")) << family << " is a " << t;
        EXPECT_TRUE(family.starts_with("tcpfo_")) << family;
    }
    return out;
}

}  // namespace

TEST(MetricsText, APrimaryRoleEpochPeersConnectionsAndHooks) {
    const Parsed m = parse(render_metrics(primary_status()));
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"primary\"}"), "1");
    for (std::string_view other : {"handed-over", "backup", "taking-over", "taken-over-primary"})
        EXPECT_EQ(m.samples.at("tcpfo_role{role=\"" + std::string(other) + "\"}"), "0") << other;
    EXPECT_EQ(m.samples.at("tcpfo_epoch"), "1");
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_start_time_seconds")), 1700000000.25);
    const std::string peer = "{peer=\"192.0.2.11:7100\"}";
    EXPECT_EQ(m.samples.at("tcpfo_peer_up" + peer), "1");
    EXPECT_EQ(m.samples.at("tcpfo_replication_sent_records_total" + peer), "120");
    EXPECT_EQ(m.samples.at("tcpfo_replication_sent_bytes_total" + peer), "65536");
    EXPECT_EQ(m.samples.at("tcpfo_replication_received_records_total" + peer), "30");
    EXPECT_EQ(m.samples.at("tcpfo_replication_received_bytes_total" + peer), "900");
    EXPECT_EQ(m.samples.at("tcpfo_replication_queued_bytes" + peer), "7");
    EXPECT_EQ(m.samples.at("tcpfo_replication_lag_bytes" + peer), "4096");
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_replication_lag_seconds" + peer)), 0.0125);
    EXPECT_EQ(m.types.at("tcpfo_replication_lag_seconds"), "gauge");
    EXPECT_EQ(m.samples.at("tcpfo_connections_protected"), "10");
    EXPECT_EQ(m.samples.at("tcpfo_connections_unprotected_total"), "2");
    EXPECT_EQ(m.samples.at("tcpfo_stable_point_lag_bytes"), "4096");
    EXPECT_EQ(m.samples.at("tcpfo_hook_events_total"), "207");
    EXPECT_EQ(m.samples.at("tcpfo_hook_ring_drops_total"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_hook_acks_clamped_total"), "61");
    EXPECT_EQ(m.types.at("tcpfo_hook_events_total"), "counter");
    EXPECT_EQ(m.types.at("tcpfo_epoch"), "gauge");
    // A primary neither takes over nor checks a replica's output.
    EXPECT_FALSE(m.types.count("tcpfo_takeovers_total"));
    EXPECT_FALSE(m.types.count("tcpfo_output_divergences_total"));
    EXPECT_FALSE(m.types.count("tcpfo_connections_unprotected"));
}

TEST(MetricsText, ABackupBeforeAndAfterItsTakeover) {
    NodeStatus before;
    before.role = "backup";
    before.conns_protected = 9;
    before.conns_unprotected = 1;
    before.stable_lag_bytes = 0;
    before.output_check = OutputCheckStatus{};
    PeerStatus p;
    p.address = "192.0.2.10:7100";
    p.state = "live";
    before.peers.push_back(p);
    Parsed m = parse(render_metrics(before));
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"backup\"}"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_takeovers_total"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_connections_protected"), "9");
    EXPECT_EQ(m.samples.at("tcpfo_connections_unprotected"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_connections_rebuilt_total"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_connections_reset_total{reason=\"diverged\"}"), "0");
    EXPECT_FALSE(m.types.count("tcpfo_replication_lag_bytes"));  // the primary's figures
    EXPECT_FALSE(m.types.count("tcpfo_replication_lag_seconds"));
    EXPECT_FALSE(m.types.count("tcpfo_takeover_duration_seconds"));

    m = parse(render_metrics(backup_after_takeover()));
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"taken-over-primary\"}"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"backup\"}"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_epoch"), "2");
    EXPECT_EQ(m.samples.at("tcpfo_takeovers_total"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_peer_up{peer=\"192.0.2.10:7100\"}"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_replication_received_bytes_total{peer=\"192.0.2.10:7100\"}"), "123456");
    EXPECT_EQ(m.samples.at("tcpfo_connections_rebuilt_total"), "8");
    EXPECT_EQ(m.samples.at("tcpfo_connections_reset_total{reason=\"diverged\"}"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_connections_reset_total{reason=\"other\"}"), "2");
    EXPECT_EQ(m.samples.at("tcpfo_connections_spliced"), "7");
    EXPECT_DOUBLE_EQ(std::stod(m.samples.at("tcpfo_takeover_duration_seconds")), 0.04165);
    EXPECT_EQ(m.samples.at("tcpfo_output_divergences_total"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_output_checked_bytes_total"), "5000");
    EXPECT_EQ(m.samples.at("tcpfo_output_unchecked_spans_total"), "2");
    EXPECT_EQ(m.samples.at("tcpfo_hook_acks_ceiled_total"), "12");
}

TEST(MetricsText, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("192.0.2.11:7100"), "192.0.2.11:7100");
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    NodeStatus s = primary_status();
    s.peers[0].address = "odd \"peer\"\\\n";
    const Parsed m = parse(render_metrics(s));
    EXPECT_EQ(m.samples.at("tcpfo_peer_up{peer=\"odd \\\"peer\\\"\\\\\\n\"}"), "1");
}

TEST(MetricsText, AnEmptyStatusIsStillWellFormed) {
    const Parsed m = parse(render_metrics(NodeStatus{}));
    EXPECT_EQ(m.samples.at("tcpfo_epoch"), "0");
    for (std::string_view role : kRoles) EXPECT_EQ(m.samples.at("tcpfo_role{role=\"" + std::string(role) + "\"}"), "0");
}

TEST(MetricsText, TheLagInTimeOfEveryPeerOfAPrimary) {
    NodeStatus s = primary_status();
    PeerStatus caught_up = s.peers[0];
    caught_up.address = "192.0.2.12:7100";
    caught_up.lag_bytes = 0;
    caught_up.lag_us = 0;
    s.peers.push_back(caught_up);
    s.peers[0].lag_us = 1;  // a microsecond
    const Parsed m = parse(render_metrics(s));
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_replication_lag_seconds{peer=\"192.0.2.11:7100\"}")), 1e-6);
    EXPECT_EQ(m.samples.at("tcpfo_replication_lag_seconds{peer=\"192.0.2.12:7100\"}"), "0");
}

TEST(MetricsText, HealthChecksOnlyWhenConfigured) {
    EXPECT_FALSE(parse(render_metrics(primary_status())).types.count("tcpfo_health_check_up"));
    NodeStatus s = primary_status();
    HealthStatus h;
    h.checks.push_back({"web", "http", "127.0.0.1:8080", "down", "failure", "HTTP 503", 1.5, 0, 0, 9, 4, 1});
    h.checks.push_back({"ssh", "banner", "127.0.0.1:22", "up", "success", "", 0.25, 0, 0, 9, 0, 0});
    h.eligible = false;
    h.reason = "check web: HTTP 503";
    s.health = h;
    const Parsed m = parse(render_metrics(s));
    EXPECT_EQ(m.samples.at("tcpfo_health_eligible"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_health_check_up{check=\"web\"}"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_health_check_up{check=\"ssh\"}"), "1");
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_health_check_latency_seconds{check=\"web\"}")), 0.0015);
    EXPECT_EQ(m.samples.at("tcpfo_health_check_failures_total{check=\"web\"}"), "4");
    EXPECT_EQ(m.types.at("tcpfo_health_check_up"), "gauge");
}

// Leases and votes (docs/operations.md, "Metrics"): the lease of a primary, its silence,
// its vote; and the roles a lease adds.
TEST(MetricsText, TheLeaseAndTheVote) {
    EXPECT_FALSE(parse(render_metrics(primary_status())).types.count("tcpfo_lease_held"));
    NodeStatus s = primary_status();
    LeaseStatus l;
    l.mode = "quorum";
    l.quorum = 2;
    l.lease_ms = 30;
    l.held = true;
    l.remaining_ms = 21;
    l.voted_epoch = 1;
    l.voted_for = "192.0.2.10";
    l.promise_remaining_ms = 29;
    l.grants = 500;
    l.refusals = 3;
    s.lease = l;
    Parsed m = parse(render_metrics(s));
    EXPECT_EQ(m.samples.at("tcpfo_lease_enforced"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_lease_held"), "1");
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_lease_remaining_seconds")), 0.021);
    EXPECT_EQ(m.samples.at("tcpfo_silent"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_vote_epoch"), "1");
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_vote_promise_remaining_seconds")), 0.029);
    EXPECT_EQ(m.samples.at("tcpfo_vote_grants_total"), "500");
    EXPECT_EQ(m.samples.at("tcpfo_vote_refusals_total"), "3");
    // Fallen silent: no lease, and the role says so.
    s.role = "silent";
    s.lease->held = false;
    s.lease->remaining_ms = 0;
    s.lease->silent = "lease lost at epoch 1";
    m = parse(render_metrics(s));
    EXPECT_EQ(m.samples.at("tcpfo_lease_held"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_silent"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"silent\"}"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"primary\"}"), "0");
    // A witness: a vote, no lease of its own.
    NodeStatus w;
    w.role = "witness";
    LeaseStatus wl;
    wl.mode = "quorum";
    wl.voted_epoch = 2;
    w.lease = wl;
    m = parse(render_metrics(w));
    EXPECT_EQ(m.samples.at("tcpfo_role{role=\"witness\"}"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_vote_epoch"), "2");
    EXPECT_FALSE(m.types.count("tcpfo_lease_held"));
}

TEST(MetricsText, TheClusterAsItsNodesReportedIt) {
    NodeStatus s = primary_status();
    EXPECT_FALSE(parse(render_metrics(s)).types.count("tcpfo_cluster_eligible")) << "no report, no cluster metrics";
    ClusterPeerStatus old_style;
    old_style.address = "192.0.2.13";
    ClusterPeerStatus b;
    b.address = "192.0.2.11";
    ClusterReportStatus r;
    r.age_ms = 250;
    r.eligible = false;
    r.has_checks = true;
    r.checks.push_back({"echo", "tcp", "down", "failure", "connection refused"});
    r.lease_held = true;
    r.backups.push_back({"192.0.2.12", "live", true, 4096, 12});
    b.report = r;
    s.cluster = {b, old_style};
    const Parsed m = parse(render_metrics(s));
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_cluster_report_age_seconds{node=\"192.0.2.11\"}")), 0.25);
    EXPECT_EQ(m.samples.at("tcpfo_cluster_eligible{node=\"192.0.2.11\"}"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_cluster_check_up{node=\"192.0.2.11\",check=\"echo\"}"), "0");
    EXPECT_EQ(m.samples.at("tcpfo_cluster_lease_held{node=\"192.0.2.11\"}"), "1");
    EXPECT_EQ(m.samples.at("tcpfo_cluster_backup_lag_bytes{node=\"192.0.2.11\",backup=\"192.0.2.12\"}"), "4096");
    EXPECT_EQ(std::stod(m.samples.at("tcpfo_cluster_backup_lag_seconds{node=\"192.0.2.11\",backup=\"192.0.2.12\"}")), 0.012);
    EXPECT_FALSE(m.samples.count("tcpfo_cluster_eligible{node=\"192.0.2.13\"}")) << "a node that sent no report";
}
