#include "userd/cluster/heartbeat.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

using namespace tcpfo;
using namespace std::chrono_literals;

namespace {

constexpr PeerId kOnlyPeer{0};

// A loopback address with a port that was free a moment ago.
sockaddr_in free_loopback_port() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return a;
}

// One node: its loop and its heartbeat, beating toward `peer`.
struct Node {
    std::unique_ptr<EventLoop> loop;
    std::unique_ptr<Heartbeat> hb;
    int verdicts = 0;
    uint64_t verdict_silence_ms = 0;

    Node(sockaddr_in self, sockaddr_in peer, uint32_t main_stall_ms = 1000) {
        Heartbeat::Config c;
        c.listen = self;
        c.peers = {peer};
        c.main_stall_ms = main_stall_ms;
        start(std::move(c));
    }
    explicit Node(Heartbeat::Config c) { start(std::move(c)); }
    void start(Heartbeat::Config c) {
        auto created = EventLoop::create();
        EXPECT_TRUE(created);
        loop = std::move(*created);
        c.interval_ms = 10;
        c.realtime_priority = 0;  // a unit test does not change its own scheduling
        Heartbeat::Callbacks callbacks;
        callbacks.on_silent = [this](PeerId, uint64_t silence) {
            ++verdicts;
            verdict_silence_ms = silence;
        };
        auto opened = Heartbeat::open(*loop, c, std::move(callbacks));
        EXPECT_TRUE(opened) << opened.error().message;
        hb = std::move(*opened);
    }
    // Runs the loop (as the daemon does, stamping each turn) for `how_long`.
    void run_for(std::chrono::milliseconds how_long) {
        const auto end = std::chrono::steady_clock::now() + how_long;
        while (std::chrono::steady_clock::now() < end) {
            hb->main_loop_alive();
            ASSERT_TRUE(loop->run_once(5));
        }
    }
};

}  // namespace

TEST(Heartbeat, KeepsBeatingWhileTheDaemonsLoopIsBusy) {
    const sockaddr_in a = free_loopback_port(), b = free_loopback_port();
    Node na(a, b), nb(b, a);
    na.run_for(50ms);
    // A's loop is busy for 300 ms (30 intervals) and does not turn; its thread beats on.
    na.hb->main_loop_alive();
    std::this_thread::sleep_for(300ms);
    // Generous against a loaded machine; the loop's own sends would leave 300 ms.
    EXPECT_LT(nb.hb->silence_ms(kOnlyPeer), 100u) << "B stopped hearing A while A's loop was busy";
}

TEST(Heartbeat, ASilentPeerIsJudgedOnceAndTheVerdictRunsInTheLoop) {
    const sockaddr_in a = free_loopback_port(), b = free_loopback_port();
    Node na(a, b);
    auto nb = std::make_unique<Node>(b, a);
    na.hb->judge(kOnlyPeer, 100);  // ten intervals: a loaded machine is no reason to fail
    na.run_for(200ms);
    EXPECT_EQ(na.verdicts, 0) << "a live peer was judged dead";
    nb.reset();  // B dies: no more heartbeats
    for (int i = 0; i < 400 && na.verdicts == 0; ++i) na.run_for(5ms);
    ASSERT_EQ(na.verdicts, 1);
    EXPECT_GT(na.verdict_silence_ms, 100u);
    na.run_for(100ms);
    EXPECT_EQ(na.verdicts, 1) << "one verdict per judge()";
}

TEST(Heartbeat, NoVerdictWithoutJudgeAndNoneAfterStopJudging) {
    const sockaddr_in a = free_loopback_port(), b = free_loopback_port();
    Node na(a, b);  // B never exists
    na.run_for(100ms);
    EXPECT_EQ(na.verdicts, 0);
    na.hb->judge(kOnlyPeer, 30);
    na.hb->stop_judging();
    na.run_for(100ms);
    EXPECT_EQ(na.verdicts, 0);
}

TEST(Heartbeat, AWedgedLoopFallsSilentToItsPeersAndBeatsAgainWhenItTurns) {
    const sockaddr_in a = free_loopback_port(), b = free_loopback_port();
    Node na(a, b, /*main_stall_ms=*/50), nb(b, a);
    na.run_for(50ms);
    EXPECT_LT(nb.hb->silence_ms(kOnlyPeer), 100u);
    std::this_thread::sleep_for(400ms);  // A's loop wedged: no stamp for 400 ms
    EXPECT_GT(nb.hb->silence_ms(kOnlyPeer), 200u) << "a wedged daemon still looked alive";
    na.run_for(150ms);
    EXPECT_LT(nb.hb->silence_ms(kOnlyPeer), 100u) << "heartbeats did not resume";
}

TEST(Heartbeat, CarriesTheEpochItIsGiven) {
    const sockaddr_in a = free_loopback_port(), b = free_loopback_port();
    Node na(a, b), nb(b, a);
    na.hb->set_epoch(7);
    for (int i = 0; i < 200 && nb.hb->highest_peer_epoch() != 7; ++i) na.run_for(5ms);
    EXPECT_EQ(nb.hb->highest_peer_epoch(), 7u);
}

namespace {

sockaddr_in loopback(const char* address, uint16_t port_network_order) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, address, &a.sin_addr);
    a.sin_port = port_network_order;
    return a;
}

// Two nodes with two addresses each (127.0.0.1 and .2; .3 and .4). `a_reaches_b_first`
// false: A's first path leads nowhere (127.0.0.9), as if that segment were cut.
// `b_knows_a_second` false: B is not told A's second address.
struct TwoPaths {
    std::unique_ptr<Node> a, b;
    TwoPaths(bool a_reaches_b_first, bool b_knows_a_second, std::shared_ptr<const KeyRing> keys = nullptr) {
        const uint16_t pa = free_loopback_port().sin_port, pb = free_loopback_port().sin_port;
        Heartbeat::Config ca;
        ca.listen = loopback("127.0.0.1", pa);
        ca.listen_second = loopback("127.0.0.2", pa);
        ca.peers = {loopback(a_reaches_b_first ? "127.0.0.3" : "127.0.0.9", pb)};
        ca.peers_second = {loopback("127.0.0.4", pb)};
        Heartbeat::Config cb;
        cb.listen = loopback("127.0.0.3", pb);
        cb.listen_second = loopback("127.0.0.4", pb);
        cb.peers = {loopback("127.0.0.1", pa)};
        if (b_knows_a_second) cb.peers_second = {loopback("127.0.0.2", pa)};
        ca.keys = cb.keys = keys;
        a = std::make_unique<Node>(ca);
        b = std::make_unique<Node>(cb);
    }
};

}  // namespace

TEST(Heartbeat, APeerHeardOnlyOnItsSecondAddressIsAlive) {
    TwoPaths nodes(/*a_reaches_b_first=*/false, /*b_knows_a_second=*/true);
    nodes.a->run_for(300ms);
    // Heartbeats every 10 ms: 150 ms of silence is a loaded machine's at most.
    EXPECT_LT(nodes.b->hb->silence_ms(kOnlyPeer), 150u) << "B did not hear A on A's second path";
    EXPECT_EQ(nodes.b->hb->refused(), 0u);
}

TEST(Heartbeat, ASecondAddressNobodyWasToldOfIsAStranger) {
    // The control of the test above: the same datagrams, but B does not know A's
    // second address, so what comes from it is refused and A goes silent for B.
    TwoPaths nodes(/*a_reaches_b_first=*/false, /*b_knows_a_second=*/false);
    nodes.a->run_for(300ms);
    EXPECT_GT(nodes.b->hb->silence_ms(kOnlyPeer), 200u);
}

TEST(Heartbeat, BothPathsDeliverAndTheSecondCopyIsNoDrop) {
    TwoPaths nodes(/*a_reaches_b_first=*/true, /*b_knows_a_second=*/true);
    nodes.a->run_for(200ms);
    nodes.b->run_for(100ms);
    EXPECT_LT(nodes.b->hb->silence_ms(kOnlyPeer), 150u);
    EXPECT_LT(nodes.a->hb->silence_ms(kOnlyPeer), 150u) << "A did not hear B (on both paths)";
    EXPECT_EQ(nodes.b->hb->refused(), 0u);
    EXPECT_EQ(nodes.a->hb->refused(), 0u);
}

TEST(Heartbeat, WithAKeyEachPathsCopyOpensAndTheSecondIsNoReplay) {
    // Each copy is sealed for the address it leaves from; the one that comes second
    // carries the counter already taken and is ignored, not counted as a replay.
    KeyBytes bytes;
    bytes.fill(7);
    auto keys = std::make_shared<KeyRing>(std::vector<AuthKey>{make_auth_key(bytes)}, KeyRing::kDefaultGraceMs);
    TwoPaths both(/*a_reaches_b_first=*/true, /*b_knows_a_second=*/true, keys);
    both.a->run_for(200ms);
    both.b->run_for(100ms);
    EXPECT_LT(both.b->hb->silence_ms(kOnlyPeer), 150u);
    EXPECT_EQ(both.b->hb->refused(), 0u);
    EXPECT_EQ(both.a->hb->refused(), 0u);
    TwoPaths second_only(/*a_reaches_b_first=*/false, /*b_knows_a_second=*/true, keys);
    second_only.a->run_for(300ms);
    EXPECT_LT(second_only.b->hb->silence_ms(kOnlyPeer), 150u) << "a sealed copy from the second address did not open";
    EXPECT_EQ(second_only.b->hb->refused(), 0u);
}

namespace {

NodeReportRecord sample_report() {
    NodeReportRecord r;
    r.epoch = 3;
    r.has_checks = true;
    r.eligible = false;
    r.checks.push_back({ReportCheckType::tcp, false, ReportCheckResult::failure, "echo", "connection refused"});
    r.backups.push_back({inet_addr("127.0.0.1"), ReportBackupState::live, ReportEligibility::eligible, 4096, 12});
    return r;
}

}  // namespace

TEST(Heartbeat, APublishedReportReachesThePeerAndAPeerWithoutOneHasNone) {
    const sockaddr_in a = free_loopback_port(), b = free_loopback_port();
    Node na(a, b), nb(b, a);
    na.hb->publish_report(sample_report());
    for (int i = 0; i < 200 && !nb.hb->peer_views()[0].report; ++i) na.run_for(5ms);
    const auto seen = nb.hb->peer_views()[0];
    ASSERT_TRUE(seen.report) << "B never got A's report";
    EXPECT_EQ(*seen.report, sample_report());
    EXPECT_LT(seen.report_age_ms, 1000u);
    EXPECT_TRUE(seen.heard) << "and A's heartbeats as before";
    // B publishes none (as an older failoverd): A shows what B's heartbeats tell only.
    nb.run_for(50ms);
    const auto of_b = na.hb->peer_views()[0];
    EXPECT_TRUE(of_b.heard);
    EXPECT_FALSE(of_b.report);
    EXPECT_EQ(na.hb->refused(), 0u);
    EXPECT_EQ(nb.hb->refused(), 0u);
}

TEST(Heartbeat, AReportIsSealedAndOpenedWithAKey) {
    KeyBytes bytes;
    bytes.fill(9);
    auto keys = std::make_shared<KeyRing>(std::vector<AuthKey>{make_auth_key(bytes)}, KeyRing::kDefaultGraceMs);
    TwoPaths nodes(/*a_reaches_b_first=*/true, /*b_knows_a_second=*/true, keys);
    nodes.a->hb->publish_report(sample_report());
    for (int i = 0; i < 200 && !nodes.b->hb->peer_views()[0].report; ++i) nodes.a->run_for(5ms);
    const auto seen = nodes.b->hb->peer_views()[0];
    ASSERT_TRUE(seen.report) << "B never got A's sealed report";
    EXPECT_EQ(*seen.report, sample_report());
    EXPECT_EQ(nodes.b->hb->refused(), 0u);
}
