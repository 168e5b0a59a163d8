// The NODE_REPORT a node makes of its own status, what a peer's reads back as, and
// when one is published (userd/status/node_report.h, report_cadence.h).
#include "userd/status/node_report.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "userd/status/report_cadence.h"

using namespace tcpfo;

namespace {

// A primary with a tcp check down, holding its lease, with two backups: one live and
// eligible, lagging; one lost that never said its health.
NodeStatus primary_with_checks() {
    NodeStatus s;
    s.role = "primary";
    s.epoch = 2;
    s.serves_as_primary = true;
    HealthStatus h;
    h.checks.push_back({"echo", "tcp", "127.0.0.1:7000", "down", "failure", "connection refused", 0.2, 0, 0, 5, 3, 0});
    h.checks.push_back({"web", "http", "127.0.0.1:8080", "up", "success", "", 0.7, 0, 0, 5, 0, 0});
    h.eligible = false;
    h.reason = "check echo: connection refused";
    s.health = h;
    LeaseStatus l;
    l.held = true;
    l.remaining_ms = 21;
    s.lease = l;
    PeerStatus live;
    live.address = "192.0.2.11:7100";
    live.state = "live";
    live.lag_bytes = 65536;
    live.lag_us = 37900;
    live.health = PeerHealthStatus{true, ""};
    s.peers.push_back(live);
    PeerStatus lost;
    lost.address = "192.0.2.12:7100";
    lost.state = "lost";
    lost.lag_bytes = 0;
    lost.lag_us = 0;
    s.peers.push_back(lost);
    return s;
}

Heartbeat::LeaseView lease_at(uint64_t now) {
    Heartbeat::LeaseView v;
    v.enforced = true;
    v.until_ms = now + 21;
    v.renewed_ms = now - 4;
    v.voter_epoch = 2;
    v.voter_granted_to = inet_addr("192.0.2.10");
    v.promised_until_ms = now + 30;
    return v;
}

}  // namespace

TEST(NodeReport, APrimaryReportsItsChecksLeaseVoteAndEachBackupsLag) {
    const uint64_t now = 100000;
    const NodeReportRecord r = node_report_of(primary_with_checks(), lease_at(now), now);
    EXPECT_EQ(r.epoch, 2u);
    EXPECT_TRUE(r.has_checks);
    EXPECT_FALSE(r.eligible);
    ASSERT_EQ(r.checks.size(), 2u);
    EXPECT_EQ(r.checks[0], (ReportCheck{ReportCheckType::tcp, false, ReportCheckResult::failure, "echo", "connection refused"}));
    EXPECT_EQ(r.checks[1], (ReportCheck{ReportCheckType::http, true, ReportCheckResult::success, "web", ""}));
    EXPECT_TRUE(r.lease_enforced);
    EXPECT_TRUE(r.lease_held);
    EXPECT_EQ(r.lease_remaining_ms, 21u);
    EXPECT_EQ(r.lease_renewed_ms, 4u);
    EXPECT_EQ(r.voted_epoch, 2u);
    EXPECT_EQ(r.voted_for, inet_addr("192.0.2.10"));
    EXPECT_EQ(r.promise_remaining_ms, 30u);
    ASSERT_EQ(r.backups.size(), 2u);
    EXPECT_EQ(r.backups[0], (ReportBackup{inet_addr("192.0.2.11"), ReportBackupState::live, ReportEligibility::eligible, 65536, 37}));
    EXPECT_EQ(r.backups[1], (ReportBackup{inet_addr("192.0.2.12"), ReportBackupState::lost, ReportEligibility::unknown, 0, 0}));
}

TEST(NodeReport, ABackupReportsNoBackupsAndNoLeaseAndWithoutChecksIsEligible) {
    NodeStatus s;
    s.role = "backup";
    s.epoch = 2;
    PeerStatus primary;  // a backup's one peer is its primary, not a backup of its own
    primary.address = "192.0.2.10:7100";
    primary.state = "live";
    s.peers.push_back(primary);
    LeaseStatus l;  // a backup's lease status has no `held`
    s.lease = l;
    const NodeReportRecord r = node_report_of(s, lease_at(100000), 100000);
    EXPECT_FALSE(r.has_checks);
    EXPECT_TRUE(r.eligible);
    EXPECT_TRUE(r.checks.empty());
    EXPECT_FALSE(r.lease_held);
    EXPECT_EQ(r.lease_remaining_ms, 0u);
    EXPECT_EQ(r.lease_renewed_ms, 0u);
    EXPECT_TRUE(r.backups.empty());
    EXPECT_EQ(r.voted_for, inet_addr("192.0.2.10"));
}

TEST(NodeReport, LeavesOutChecksAndBackupsOverItsBounds) {
    NodeStatus s = primary_with_checks();
    for (int i = 0; i < 10; ++i) s.health->checks.push_back(s.health->checks[1]);
    for (int i = 0; i < 20; ++i) s.peers.push_back(s.peers[0]);
    const NodeReportRecord r = node_report_of(s, lease_at(1000), 1000);
    EXPECT_EQ(r.checks.size(), kMaxReportChecks);
    EXPECT_EQ(r.backups.size(), kMaxReportBackups);
}

TEST(NodeReport, ReadsBackAsThePeersClusterStatus) {
    const uint64_t now = 100000;
    const ClusterReportStatus c = report_status_of(node_report_of(primary_with_checks(), lease_at(now), now), 412);
    EXPECT_EQ(c.age_ms, 412u);
    EXPECT_EQ(c.epoch, 2u);
    EXPECT_TRUE(c.has_checks);
    EXPECT_FALSE(c.eligible);
    ASSERT_EQ(c.checks.size(), 2u);
    EXPECT_EQ(c.checks[0].name, "echo");
    EXPECT_EQ(c.checks[0].type, "tcp");
    EXPECT_EQ(c.checks[0].state, "down");
    EXPECT_EQ(c.checks[0].last_result, "failure");
    EXPECT_EQ(c.checks[0].reason, "connection refused");
    EXPECT_EQ(c.checks[1].type, "http");
    EXPECT_EQ(c.checks[1].state, "up");
    EXPECT_TRUE(c.lease_held);
    EXPECT_EQ(c.lease_remaining_ms, 21u);
    EXPECT_EQ(c.lease_renewed_ms_ago, 4u);
    EXPECT_EQ(c.voted_for, "192.0.2.10");
    ASSERT_EQ(c.backups.size(), 2u);
    EXPECT_EQ(c.backups[0].address, "192.0.2.11");
    EXPECT_EQ(c.backups[0].state, "live");
    EXPECT_EQ(c.backups[0].eligible, true);
    EXPECT_EQ(c.backups[0].lag_bytes, 65536u);
    EXPECT_EQ(c.backups[0].lag_ms, 37u);
    EXPECT_EQ(c.backups[1].state, "lost");
    EXPECT_FALSE(c.backups[1].eligible.has_value());
}

TEST(NodeReport, FiguresAreNoChangeStatesAre) {
    const NodeReportRecord a = node_report_of(primary_with_checks(), lease_at(1000), 1000);
    NodeReportRecord b = a;
    b.backups[0].lag_bytes = 1;
    b.backups[0].lag_ms = 900;
    b.lease_remaining_ms = 3;
    b.lease_renewed_ms = 27;
    b.promise_remaining_ms = 1;
    EXPECT_TRUE(same_states(a, b));
    NodeReportRecord c = a;
    c.checks[0].up = true;
    EXPECT_FALSE(same_states(a, c));
    NodeReportRecord d = a;
    d.backups[1].state = ReportBackupState::live;
    EXPECT_FALSE(same_states(a, d));
    NodeReportRecord e = a;
    e.lease_held = false;
    EXPECT_FALSE(same_states(a, e));
}

TEST(ReportCadence, LooksEveryLookPublishesOnAChangeAndOtherwiseEveryPeriod) {
    ReportCadence cadence(250, 1000);
    NodeReportRecord current = node_report_of(primary_with_checks(), lease_at(1000), 1000);
    int made = 0;
    auto make = [&] {
        ++made;
        return current;
    };
    EXPECT_TRUE(cadence.next(10000, make)) << "the first report goes at once";
    EXPECT_FALSE(cadence.next(10100, make)) << "not looked at again before 250 ms";
    EXPECT_EQ(made, 1);
    current.backups[0].lag_bytes = 7;  // a figure moved: no change
    EXPECT_FALSE(cadence.next(10250, make));
    EXPECT_EQ(made, 2);
    current.checks[1].up = false;  // a check went down: at the next look
    auto changed = cadence.next(10500, make);
    ASSERT_TRUE(changed);
    EXPECT_FALSE(changed->checks[1].up);
    EXPECT_FALSE(cadence.next(10750, make));
    EXPECT_FALSE(cadence.next(11250, make));
    EXPECT_TRUE(cadence.next(11500, make)) << "a second after the last one";
}
