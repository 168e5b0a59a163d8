// Leases and votes over real UDP on loopback (userd/cluster/heartbeat.h): a primary, a
// backup and a witness, each on an address of its own (127.0.0.x: peers are told apart
// by address). Every wait is for a condition, with a generous bound for loaded machines.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include <gtest/gtest.h>

#include "userd/cluster/heartbeat.h"

using namespace tcpfo;
using namespace std::chrono_literals;
using Event = Heartbeat::ClusterEvent;

namespace {

// 127.0.0.N with a UDP port that was free a moment ago.
sockaddr_in free_port_on(uint8_t n) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000000u | n);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return a;
}

struct LeaseNode {
    std::unique_ptr<EventLoop> loop;
    std::unique_ptr<Heartbeat> hb;
    std::vector<std::pair<Event, uint64_t>> events;
    uint64_t deadline_ms = 0;  // the latest lease deadline the thread published
    std::atomic<uint64_t> deadlines{0};

    LeaseNode(sockaddr_in self, std::vector<sockaddr_in> peers, NodeRole role, uint64_t epoch, int node_id = 0,
              int priority = 0, size_t quorum = 2, uint32_t lease_ms = 30) {
        auto created = EventLoop::create();
        EXPECT_TRUE(created);
        loop = std::move(*created);
        Heartbeat::Config c;
        c.listen = self;
        c.peers = std::move(peers);
        c.role = role;
        c.interval_ms = 10;
        c.realtime_priority = 0;
        c.lease_enforced = true;
        c.lease_ms = lease_ms;
        c.quorum = quorum;
        c.node_id = node_id;
        c.priority = priority;
        Heartbeat::Callbacks cb;
        cb.on_cluster = [this](Event e, uint64_t epoch) { events.emplace_back(e, epoch); };
        cb.on_lease_deadline = [this](uint64_t until) {
            deadline_ms = until;
            deadlines.fetch_add(1);
        };
        auto opened = Heartbeat::open(*loop, c, std::move(cb));
        EXPECT_TRUE(opened) << opened.error().message;
        hb = std::move(*opened);
        hb->set_epoch(epoch);
    }
    bool saw(Event e) const {
        for (const auto& [ev, epoch] : events)
            if (ev == e) return true;
        return false;
    }
};

// Turns every node's loop (as the daemon does) until `done`, or fails after 10 s.
bool run_until(std::vector<LeaseNode*> nodes, const std::function<bool()>& done) {
    const auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
        for (LeaseNode* n : nodes) {
            if (!n) continue;
            n->hb->main_loop_alive();
            if (!n->loop->run_once(1)) return false;
        }
        if (done()) return true;
    }
    return false;
}

}  // namespace

TEST(HeartbeatLease, APrimaryHoldsItsLeaseThroughTheWitnessLosesItWithoutAndRegainsIt) {
    const sockaddr_in p = free_port_on(1), b = free_port_on(2), w = free_port_on(3);
    // The backup is not running: the witness alone makes the quorum with the primary.
    LeaseNode primary(p, {b, w}, NodeRole::primary, 1);
    auto witness = std::make_unique<LeaseNode>(w, std::vector<sockaddr_in>{p, b}, NodeRole::witness, 0);
    ASSERT_TRUE(run_until({&primary, witness.get()}, [&] { return primary.saw(Event::lease_acquired); }))
        << "no lease granted";
    // Renewed again and again while the witness answers.
    const uint64_t renewals = primary.deadlines.load();
    ASSERT_TRUE(run_until({&primary, witness.get()}, [&] { return primary.deadlines.load() >= renewals + 5; }));
    EXPECT_FALSE(primary.hb->silent());
    EXPECT_EQ(witness->hb->lease_view().voter_epoch, 1u);
    EXPECT_EQ(witness->hb->lease_view().voter_granted_to, p.sin_addr.s_addr);
    // The witness goes: the lease lapses (the loop is told; the thread goes on asking).
    witness.reset();
    ASSERT_TRUE(run_until({&primary}, [&] { return primary.saw(Event::lease_lapsed); })) << "the lease never lapsed";
    EXPECT_FALSE(primary.hb->silent());
    // Its last deadline lies in the past: the hooks drop its egress from then on.
    EXPECT_LE(primary.deadline_ms, monotonic_ms());
    const uint64_t lapsed_deadlines = primary.deadlines.load();
    // A witness again (nobody was elected meanwhile): it grants epoch 1 once its own
    // start is a lease behind it, and the primary holds a lease again.
    witness = std::make_unique<LeaseNode>(w, std::vector<sockaddr_in>{p, b}, NodeRole::witness, 0);
    auto acquired = [&] {
        int n = 0;
        for (const auto& [e, epoch] : primary.events) n += e == Event::lease_acquired;
        return n;
    };
    ASSERT_TRUE(run_until({&primary, witness.get()}, [&] { return acquired() == 2; })) << "the lease never came back";
    EXPECT_GT(primary.deadlines.load(), lapsed_deadlines);
    EXPECT_GT(primary.deadline_ms, monotonic_ms() - 30);
}

TEST(HeartbeatLease, ACandidateIsElectedOnlyOnceThePrimaryIsSilent) {
    const sockaddr_in p = free_port_on(1), b = free_port_on(2), w = free_port_on(3);
    LeaseNode primary(p, {b, w}, NodeRole::primary, 1);
    LeaseNode backup(b, {p, w}, NodeRole::backup, 1);
    LeaseNode witness(w, {p, b}, NodeRole::witness, 0);
    std::vector<LeaseNode*> all = {&primary, &backup, &witness};
    ASSERT_TRUE(run_until(all, [&] { return primary.saw(Event::lease_acquired); }));
    // The backup campaigns while the primary renews its lease: the witness refuses it,
    // and so does the backup's own vote (it keeps granting the primary).
    backup.hb->campaign(1);
    const uint64_t refused_before = witness.hb->lease_view().refusals;
    ASSERT_TRUE(run_until(all, [&] { return witness.hb->lease_view().refusals >= refused_before + 10; }));
    EXPECT_FALSE(backup.saw(Event::elected));
    EXPECT_EQ(backup.hb->campaign_epoch(), 2u);
    EXPECT_FALSE(primary.hb->silent());
    // The primary falls silent (as after a handover): the promises run out, the
    // witness votes for the backup, which is elected at epoch 2.
    primary.hb->fall_silent();
    const uint64_t silent_at = monotonic_ms();
    ASSERT_TRUE(run_until(all, [&] { return backup.saw(Event::elected); })) << "never elected";
    EXPECT_GE(monotonic_ms() - silent_at, 20u) << "elected before the promises could have run out";
    EXPECT_EQ(backup.events.back().second, 2u);
    // The second vote may have been the silent primary's own (its promise to itself ran
    // out too): the witness grants epoch 2 at the latest as the new primary renews.
    ASSERT_TRUE(run_until(all, [&] {
        const auto v = witness.hb->lease_view();
        return v.voter_epoch == 2 && v.voter_granted_to == b.sin_addr.s_addr;
    }));
    // The new primary holds a lease from the votes, renewed by the witness.
    const uint64_t renewals = backup.deadlines.load();
    ASSERT_TRUE(run_until(all, [&] { return backup.deadlines.load() >= renewals + 3; }));
    EXPECT_GT(backup.deadline_ms, monotonic_ms() - 30);
}

TEST(HeartbeatLease, AStalePrimaryThatHearsTheHigherEpochFallsSilent) {
    const sockaddr_in p = free_port_on(1), b = free_port_on(2), w = free_port_on(3);
    LeaseNode witness(w, {p, b}, NodeRole::witness, 0);
    // A backup elected at epoch 2 with the witness while the old primary was away.
    LeaseNode backup(b, {p, w}, NodeRole::backup, 1);
    backup.hb->campaign(1);
    ASSERT_TRUE(run_until({&backup, &witness}, [&] { return backup.saw(Event::elected); }));
    // The old primary comes back at epoch 1: the witness refuses it with epoch 2.
    LeaseNode primary(p, {b, w}, NodeRole::primary, 1);
    ASSERT_TRUE(run_until({&primary, &backup, &witness}, [&] { return primary.saw(Event::higher_epoch); }));
    EXPECT_TRUE(primary.hb->silent());
    EXPECT_FALSE(primary.saw(Event::lease_acquired));
    EXPECT_EQ(primary.deadline_ms, 0u) << "a stale primary was given a lease";
}

// Three data nodes, no witness (a majority of three is two): the primary dies and both
// backups campaign. The one holding more of the primary's stream is elected, whichever
// asked first and whatever the priorities say; the other gives it its vote.
TEST(HeartbeatLease, OfTwoBackupsTheOneWithTheLongerLogIsElected) {
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3);
    auto primary = std::make_unique<LeaseNode>(a, std::vector<sockaddr_in>{b, c}, NodeRole::primary, 1, 1, 200);
    LeaseNode longer(b, {a, c}, NodeRole::backup, 1, 2, 100);
    LeaseNode shorter(c, {a, b}, NodeRole::backup, 1, 3, 250);
    longer.hb->set_log_position(1, 5000);
    shorter.hb->set_log_position(1, 4000);
    longer.hb->set_fit_to_lead(true);
    shorter.hb->set_fit_to_lead(true);
    std::vector<LeaseNode*> all = {primary.get(), &longer, &shorter};
    ASSERT_TRUE(run_until(all, [&] { return primary->saw(Event::lease_acquired); }));
    primary.reset();
    all = {&longer, &shorter};
    // The shorter log notices first: the longer one refuses it, even before it has
    // noticed anything itself.
    shorter.hb->campaign(1);
    ASSERT_TRUE(run_until(all, [&] { return longer.hb->lease_view().outranked_refusals >= 5; }));
    EXPECT_FALSE(shorter.saw(Event::elected));
    // Then the longer one campaigns too: elected at epoch 2 with the other's vote.
    longer.hb->campaign(1);
    ASSERT_TRUE(run_until(all, [&] { return longer.saw(Event::elected); })) << "never elected";
    EXPECT_EQ(longer.events.back().second, 2u);
    EXPECT_EQ(shorter.hb->lease_view().voter_epoch, 2u);
    EXPECT_EQ(shorter.hb->lease_view().voter_granted_to, b.sin_addr.s_addr);
    // The loser is never elected at that epoch (its own vote went to the winner), and
    // sees the winner's heartbeats at epoch 2.
    ASSERT_TRUE(run_until(all, [&] { return shorter.hb->peer_views()[1].role == NodeRole::primary; }));
    EXPECT_FALSE(shorter.saw(Event::elected));
    const auto views = shorter.hb->peer_views();
    ASSERT_EQ(views.size(), 2u);
    EXPECT_TRUE(views[1].heard);
    EXPECT_EQ(views[1].epoch, 2u);
    EXPECT_EQ(views[1].node_id, 2);
    EXPECT_EQ(views[1].priority, 100);
}

// Equal logs: the higher priority wins; a backup not fit to lead (its replica failing
// its checks) does not stand in anyone's way.
TEST(HeartbeatLease, EqualLogsElectTheHigherPriorityAndAnUnfitBackupBlocksNobody) {
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3);
    LeaseNode low(b, {a, c}, NodeRole::backup, 1, 2, 100);
    LeaseNode high(c, {a, b}, NodeRole::backup, 1, 3, 200);
    low.hb->set_log_position(1, 5000);
    high.hb->set_log_position(1, 5000);
    low.hb->set_fit_to_lead(true);
    high.hb->set_fit_to_lead(true);
    std::vector<LeaseNode*> all = {&low, &high};
    low.hb->campaign(1);
    high.hb->campaign(1);
    ASSERT_TRUE(run_until(all, [&] { return high.saw(Event::elected); })) << "never elected";
    EXPECT_FALSE(low.saw(Event::elected));
    EXPECT_EQ(low.hb->lease_view().voter_granted_to, c.sin_addr.s_addr);

    // A third pair: the better-ranked backup is not fit, so the other is elected.
    const sockaddr_in d = free_port_on(4), e = free_port_on(5), f = free_port_on(6);
    LeaseNode unfit(e, {d, f}, NodeRole::backup, 1, 2, 250);
    LeaseNode fit(f, {d, e}, NodeRole::backup, 1, 3, 100);
    unfit.hb->set_log_position(1, 9000);
    fit.hb->set_log_position(1, 10);
    fit.hb->set_fit_to_lead(true);
    fit.hb->campaign(1);
    ASSERT_TRUE(run_until({&unfit, &fit}, [&] { return fit.saw(Event::elected); })) << "an unfit backup blocked the election";
    EXPECT_EQ(unfit.hb->lease_view().outranked_refusals, 0u);
}

// Four data nodes (a majority of three), the primary dead, three backups. The second
// best campaigns first and the worst grants it its vote; then the best campaigns, and
// the second best refuses nothing to it but its own vote is the only one it could add.
// Were the second best to go on asking, the worst would renew its promise to it at each
// heartbeat and never grant the best, which refuses the second best in turn: neither
// would ever reach three. It stands aside while the better candidate is heard, its
// promise runs out, and the best is elected. A lease of 300 ms: with 30, a heartbeat
// thread starved for a lease on a loaded machine let the promise run out by chance and
// hid the deadlock (the test passed without the fix).
TEST(HeartbeatLease, AnOutrankedCandidateStandsAsideSoThatFourNodesElect) {
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3), d = free_port_on(4);
    LeaseNode best(b, {a, c, d}, NodeRole::backup, 1, 2, 100, 3, 300);
    LeaseNode second(c, {a, b, d}, NodeRole::backup, 1, 3, 100, 3, 300);
    LeaseNode worst(d, {a, b, c}, NodeRole::backup, 1, 4, 100, 3, 300);
    best.hb->set_log_position(1, 9000);
    second.hb->set_log_position(1, 5000);
    worst.hb->set_log_position(1, 1000);
    for (LeaseNode* n : {&best, &second, &worst}) n->hb->set_fit_to_lead(true);
    std::vector<LeaseNode*> all = {&best, &second, &worst};
    second.hb->campaign(1);
    ASSERT_TRUE(run_until(all, [&] { return worst.hb->lease_view().voter_granted_to == c.sin_addr.s_addr; }))
        << "the worst never granted the second best";
    best.hb->campaign(1);
    ASSERT_TRUE(run_until(all, [&] { return best.saw(Event::elected); })) << "never elected (the candidates deadlock)";
    EXPECT_FALSE(second.saw(Event::elected));
    EXPECT_FALSE(worst.saw(Event::elected));
    EXPECT_GT(second.hb->lease_view().deferrals, 0u);
    EXPECT_EQ(worst.hb->lease_view().voter_granted_to, b.sin_addr.s_addr);
}

// Equal logs of the winner's stream (both followers' streams began at its hello), but
// the lower id lacks connections it joined too late for: the backup that holds every
// connection is elected, and refuses the other (HOLDINGS, election_rank.h).
TEST(HeartbeatLease, OfEqualLogsTheBackupHoldingEveryConnectionIsElected) {
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3);
    LeaseNode late(b, {a, c}, NodeRole::backup, 3, 1, 100);     // the lower id: it would win a tie
    LeaseNode keeper(c, {a, b}, NodeRole::backup, 3, 4, 100);
    late.hb->set_log_position(3, 5000);
    keeper.hb->set_log_position(3, 5000);
    keeper.hb->set_holds_every_connection(true);
    late.hb->set_fit_to_lead(true);
    keeper.hb->set_fit_to_lead(true);
    std::vector<LeaseNode*> all = {&late, &keeper};
    late.hb->campaign(3);
    ASSERT_TRUE(run_until(all, [&] { return keeper.hb->lease_view().outranked_refusals >= 3; }));
    EXPECT_FALSE(late.saw(Event::elected));
    keeper.hb->campaign(3);
    ASSERT_TRUE(run_until(all, [&] { return keeper.saw(Event::elected); })) << "never elected";
    EXPECT_EQ(keeper.events.back().second, 4u);
    EXPECT_FALSE(late.saw(Event::elected));
    // What the peers' heartbeats said, as status shows it.
    EXPECT_TRUE(late.hb->peer_views()[1].holds_every_connection);
}

// A primary that fell silent on a higher epoch rejoins as a backup: it heartbeats as one
// again (no log, not holding every connection) and its voter answers on: it votes for
// the backup that campaigns next.
TEST(HeartbeatLease, ASilentPrimaryRejoinsAsABackupAndVotes) {
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), w = free_port_on(3);
    LeaseNode stale(a, {b, w}, NodeRole::primary, 1, 1, 100, 2, 100);
    LeaseNode other(b, {a, w}, NodeRole::backup, 1, 2, 100, 2, 100);
    LeaseNode witness(w, {a, b}, NodeRole::witness, 0, 3, 0, 2, 100);
    std::vector<LeaseNode*> all = {&stale, &other, &witness};
    ASSERT_TRUE(run_until(all, [&] { return other.hb->peer_views()[0].role == NodeRole::primary; }));
    // Silent as its owner makes it on a higher epoch (PrimaryNode::fall_silent).
    stale.hb->fall_silent();
    stale.hb->set_holds_every_connection(true);  // from before: rejoining forgets it
    stale.hb->rejoin_as_backup();
    EXPECT_FALSE(stale.hb->silent());
    ASSERT_TRUE(run_until(all, [&] {
        const auto v = other.hb->peer_views()[0];
        return v.heard && v.role == NodeRole::backup;
    }));
    const auto v = other.hb->peer_views()[0];
    EXPECT_EQ(v.log_position, 0u);
    EXPECT_FALSE(v.holds_every_connection);
    other.hb->campaign(1);
    ASSERT_TRUE(run_until(all, [&] { return other.saw(Event::elected); })) << "never elected";
    ASSERT_TRUE(run_until(all, [&] { return stale.hb->lease_view().voter_granted_to == b.sin_addr.s_addr; }));
    EXPECT_FALSE(stale.hb->silent());
}

// A planned handover with three data nodes and a long lease: the primary gives its own
// vote back as it falls silent, and the backup it hands to gives back the vote it holds
// for the primary (on the HANDOVER record): with those two the backup is elected at once,
// well before the third node's promise to the old primary could have run out.
TEST(HeartbeatLease, AHandoverElectsTheTargetWithTheOldPrimarysVoteWithoutWaitingALease) {
    constexpr uint32_t kLongLease = 2000;
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3);
    LeaseNode primary(a, {b, c}, NodeRole::primary, 1, 1, 100, 2, kLongLease);
    LeaseNode target(b, {a, c}, NodeRole::backup, 1, 2, 100, 2, kLongLease);
    LeaseNode other(c, {a, b}, NodeRole::backup, 1, 3, 100, 2, kLongLease);
    target.hb->set_log_position(1, 5000);
    other.hb->set_log_position(1, 5000);
    target.hb->set_fit_to_lead(true);
    other.hb->set_fit_to_lead(true);
    std::vector<LeaseNode*> all = {&primary, &target, &other};
    // A fresh voter waits a lease before its first grant.
    ASSERT_TRUE(run_until(all, [&] {
        return primary.saw(Event::lease_acquired) && target.hb->lease_view().voter_epoch == 1 &&
               other.hb->lease_view().voter_epoch == 1;
    }));
    primary.hb->hand_over(1);
    target.hb->release_vote_of(a.sin_addr.s_addr, 1);
    target.hb->set_fit_to_lead(false);  // taking over
    const uint64_t handed_at = monotonic_ms();
    target.hb->campaign(1, true);
    ASSERT_TRUE(run_until(all, [&] { return target.saw(Event::elected); })) << "never elected";
    EXPECT_LT(monotonic_ms() - handed_at, uint64_t(kLongLease) / 2) << "the election waited for the promises";
    EXPECT_EQ(target.events.back().second, 2u);
    EXPECT_TRUE(primary.hb->silent());
    EXPECT_EQ(primary.hb->lease_view().voter_epoch, 2u);
    EXPECT_EQ(primary.hb->lease_view().voter_granted_to, b.sin_addr.s_addr);
    // The third node still keeps its promise to the old primary: it was not needed.
    EXPECT_EQ(other.hb->lease_view().voter_epoch, 1u);
    EXPECT_EQ(other.hb->lease_view().voter_granted_to, a.sin_addr.s_addr);
}

// Without the old primary's word (it only fell silent, as a crashed one does), the
// backup's own vote stays promised to it: no election before the promises run out.
TEST(HeartbeatLease, AReleaseByAnotherNodeThanThePrimaryShortensNothing) {
    constexpr uint32_t kLongLease = 1000;
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3);
    LeaseNode primary(a, {b, c}, NodeRole::primary, 1, 1, 100, 2, kLongLease);
    LeaseNode target(b, {a, c}, NodeRole::backup, 1, 2, 100, 2, kLongLease);
    LeaseNode other(c, {a, b}, NodeRole::backup, 1, 3, 100, 2, kLongLease);
    std::vector<LeaseNode*> all = {&primary, &target, &other};
    ASSERT_TRUE(run_until(all, [&] {
        return primary.saw(Event::lease_acquired) && target.hb->lease_view().voter_epoch == 1 &&
               other.hb->lease_view().voter_epoch == 1;
    }));
    primary.hb->fall_silent();
    target.hb->release_vote_of(c.sin_addr.s_addr, 1);  // not whom its vote went to
    const uint64_t silent_at = monotonic_ms();
    target.hb->campaign(1, true);
    ASSERT_TRUE(run_until(all, [&] { return target.saw(Event::elected); })) << "never elected";
    EXPECT_GE(monotonic_ms() - silent_at, uint64_t(kLongLease) - 20) << "elected before the promises ran out";
}

// Who may follow a node that takes over (BackupNode::others_alive, the promoted
// primary's resume_awaited_): a backup heard lately, never a primary, which is heard
// (it answers votes even once it handed over) but follows nobody.
TEST(HeartbeatLease, AHeardPrimaryMayNotFollowAHeardBackupMay) {
    const sockaddr_in a = free_port_on(1), b = free_port_on(2), c = free_port_on(3);
    LeaseNode primary(a, {b, c}, NodeRole::primary, 1, 1, 100);
    LeaseNode backup(b, {a, c}, NodeRole::backup, 1, 2, 100);
    auto other = std::make_unique<LeaseNode>(c, std::vector<sockaddr_in>{a, b}, NodeRole::backup, 1, 3, 100);
    std::vector<LeaseNode*> all = {&primary, &backup, other.get()};
    ASSERT_TRUE(run_until(all, [&] {
        return primary.saw(Event::lease_acquired) && backup.hb->may_follow(PeerId{1}, 30);
    }));
    EXPECT_FALSE(backup.hb->may_follow(PeerId{0}, 30));
    // The primary hands over: silent, it still answers the backup's candidacy.
    primary.hb->hand_over(1);
    backup.hb->release_vote_of(a.sin_addr.s_addr, 1);
    backup.hb->campaign(1, true);
    ASSERT_TRUE(run_until(all, [&] { return backup.saw(Event::elected); }));
    EXPECT_LE(backup.hb->silence_ms(PeerId{0}), 30u) << "the old primary answers the votes";
    EXPECT_FALSE(backup.hb->may_follow(PeerId{0}, 30));
    EXPECT_TRUE(backup.hb->may_follow(PeerId{1}, 30));
    // The other backup goes: no longer heard, it may not follow either.
    other.reset();
    all = {&primary, &backup};
    ASSERT_TRUE(run_until(all, [&] { return !backup.hb->may_follow(PeerId{1}, 30); }));
}
