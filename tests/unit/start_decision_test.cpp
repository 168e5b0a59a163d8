// The start-up decision: serve as the node list says, or join a running primary.
#include "userd/node/start_decision.h"

#include <gtest/gtest.h>

namespace tcpfo {
namespace {

TEST(StartDecision, ListedPrimaryServesWhenNoPeerAnnouncedAnEpoch) {
    const StartDecision d = decide_start(NodeRole::primary, StartHearing{0});
    EXPECT_EQ(d.role, NodeRole::primary);
    EXPECT_EQ(d.epoch, 1u);
    EXPECT_FALSE(d.joined);
}

TEST(StartDecision, ListedPrimaryJoinsAPeerThatServesAtAHigherEpoch) {
    // The old primary restarted after its backup took over at epoch 2: no preemption.
    const StartDecision d = decide_start(NodeRole::primary, StartHearing{2});
    EXPECT_EQ(d.role, NodeRole::backup);
    EXPECT_TRUE(d.joined);
}

TEST(StartDecision, ListedPrimaryJoinsAtEpochOneToo) {
    // A peer at epoch 1 was replicating with a primary: the restarted node must not
    // claim the VIP beside it.
    const StartDecision d = decide_start(NodeRole::primary, StartHearing{1});
    EXPECT_EQ(d.role, NodeRole::backup);
    EXPECT_TRUE(d.joined);
}

TEST(StartDecision, ListedBackupAlwaysStartsAsBackup) {
    for (uint64_t heard : {0ull, 1ull, 7ull}) {
        const StartDecision d = decide_start(NodeRole::backup, StartHearing{heard});
        EXPECT_EQ(d.role, NodeRole::backup) << heard;
        EXPECT_FALSE(d.joined) << heard;
    }
}

TEST(StartDecision, ListensAtLeastThreeVerdictsAndNeverLessThanAFloor) {
    EXPECT_EQ(start_listen_ms(10, 3), 100u);   // 90 ms of verdicts, the floor wins
    EXPECT_EQ(start_listen_ms(50, 3), 450u);
    EXPECT_EQ(start_listen_ms(1, 1), 100u);
    EXPECT_EQ(start_listen_ms(0, 0), 100u);    // never zero
}

}  // namespace
}  // namespace tcpfo
