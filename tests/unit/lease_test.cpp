// The lease arithmetic (userd/cluster/lease.h): a lease runs from the send time of the
// latest heartbeat a quorum granted, for the lease less the drift margin.
#include "userd/cluster/lease.h"

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(Lease, TheMarginIsOnePercentAndAtLeastAMillisecond) {
    EXPECT_EQ(LeaseTracker::drift_margin_ms(30), 1u);
    EXPECT_EQ(LeaseTracker::drift_margin_ms(100), 1u);
    EXPECT_EQ(LeaseTracker::drift_margin_ms(1000), 10u);
}

TEST(Lease, NoLeaseBeforeAQuorumGranted) {
    // Two voters (a backup, a witness), quorum 2 of 3: this node and one voter.
    LeaseTracker lease(2, 2, 30);
    EXPECT_EQ(lease.held_until_ms(), 0u);
    EXPECT_FALSE(lease.held(5));
    EXPECT_FALSE(lease.lapsed(5));  // never held: nothing lapsed (the node never spoke)
    EXPECT_TRUE(lease.on_grant(1, 100));
    EXPECT_EQ(lease.held_until_ms(), 100u + 30 - 1);
    EXPECT_TRUE(lease.held(128));
    EXPECT_FALSE(lease.held(129));
    EXPECT_TRUE(lease.lapsed(129));
}

TEST(Lease, CountsFromTheSendTimeOfTheLatestHeartbeatAQuorumGranted) {
    // Four voters, quorum 3 of 5: this node and two voters.
    LeaseTracker lease(4, 3, 100);
    EXPECT_FALSE(lease.on_grant(0, 1000));  // one voter: no quorum yet
    EXPECT_EQ(lease.held_until_ms(), 0u);
    EXPECT_TRUE(lease.on_grant(2, 1010));   // two voters granted 1000 or later
    EXPECT_EQ(lease.held_until_ms(), 1000u + 99);
    EXPECT_FALSE(lease.on_grant(3, 990));   // an older heartbeat granted by a third: nothing moves
    EXPECT_EQ(lease.held_until_ms(), 1000u + 99);
    EXPECT_TRUE(lease.on_grant(0, 1020));   // now 1010 (voter 2) is the second latest
    EXPECT_EQ(lease.held_until_ms(), 1010u + 99);
    // One voter racing ahead alone never extends it.
    EXPECT_FALSE(lease.on_grant(0, 5000));
    EXPECT_EQ(lease.held_until_ms(), 1010u + 99);
}

TEST(Lease, AGrantArrivingLateNeverShortensIt) {
    LeaseTracker lease(1, 2, 30);
    EXPECT_TRUE(lease.on_grant(0, 200));
    EXPECT_FALSE(lease.on_grant(0, 150));  // a reordered reply to an older heartbeat
    EXPECT_EQ(lease.held_until_ms(), 229u);
}

TEST(Lease, ResetForgetsGrantsButNotTheLeaseHeld) {
    LeaseTracker lease(2, 2, 30);
    EXPECT_TRUE(lease.on_grant(0, 100));
    lease.reset();
    // A grant older than the one before the reset counts again, but cannot shorten.
    EXPECT_FALSE(lease.on_grant(1, 90));
    EXPECT_EQ(lease.held_until_ms(), 129u);
    EXPECT_TRUE(lease.on_grant(1, 110));
    EXPECT_EQ(lease.held_until_ms(), 139u);
}

TEST(Lease, AQuorumOfOneIsThisNodeAlone) {
    LeaseTracker lease(1, 1, 30);
    EXPECT_TRUE(lease.on_grant(0, 100));
    EXPECT_EQ(lease.held_until_ms(), 129u);
}
