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
    EXPECT_EQ(start_listen_ms(10, 3), 1500u);   // 90 ms of verdicts, the floor wins
    EXPECT_EQ(start_listen_ms(200, 3), 1800u);
    EXPECT_EQ(start_listen_ms(1, 1), 1500u);
    EXPECT_EQ(start_listen_ms(0, 0), 1500u);    // never zero
}

TEST(StartDecision, StopsListeningOnceEveryPeerIsHeardOrOneServes) {
    EXPECT_FALSE(heard_enough(StartHearing{0, 1, 0}));  // nobody heard yet: maybe not reachable yet
    EXPECT_TRUE(heard_enough(StartHearing{0, 1, 1}));   // the peer heard at epoch 0: nobody serves
    EXPECT_TRUE(heard_enough(StartHearing{2, 1, 1}));   // a peer serves
    EXPECT_TRUE(heard_enough(StartHearing{2, 2, 1}));   // one peer serving is enough
    EXPECT_FALSE(heard_enough(StartHearing{0, 2, 1}));  // one of two peers silent
    EXPECT_FALSE(heard_enough(StartHearing{0, 0, 0}));  // no peers: listen to the deadline
}

}  // namespace
}  // namespace tcpfo
