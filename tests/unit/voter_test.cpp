// The voting rule (userd/cluster/voter.h): a promise per grant, one vote per epoch, and
// nothing granted to a new epoch before every promise has run out.
#include "userd/cluster/voter.h"

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
constexpr uint32_t kPrimary = 10, kBackup = 11, kOther = 12;
constexpr uint64_t kLease = 30;
}  // namespace

TEST(Voter, AFreshVoterWaitsALeaseBeforeItsFirstGrant) {
    // It may have promised something before a restart that it no longer knows.
    Voter v(kLease, 1000);
    EXPECT_FALSE(v.on_request(1, kPrimary, 1000).granted);
    EXPECT_FALSE(v.on_request(1, kPrimary, 1029).granted);
    const auto a = v.on_request(1, kPrimary, 1030);
    EXPECT_TRUE(a.granted);
    EXPECT_EQ(a.epoch, 1u);
    EXPECT_EQ(v.granted_to(), kPrimary);
    EXPECT_EQ(v.promised_until_ms(), 1060u);
    EXPECT_EQ(v.grants(), 1u);
    EXPECT_EQ(v.refusals(), 2u);
}

TEST(Voter, RenewsThePrimaryItGrantedAndRefusesOthersAtItsEpoch) {
    Voter v(kLease, 0);
    ASSERT_TRUE(v.on_request(1, kPrimary, 100).granted);
    EXPECT_TRUE(v.on_request(1, kPrimary, 110).granted);
    EXPECT_EQ(v.promised_until_ms(), 140u);
    // Another node claiming the same epoch: one vote per epoch, even after the promise.
    EXPECT_FALSE(v.on_request(1, kBackup, 500).granted);
}

TEST(Voter, ANewEpochIsGrantedOnlyOnceEveryPromiseRanOut) {
    Voter v(kLease, 0);
    ASSERT_TRUE(v.on_request(1, kPrimary, 100).granted);  // promised until 130
    // The backup's candidacy for epoch 2 while the promise runs: refused, and the
    // answer names the epoch the voter is at.
    auto refused = v.on_request(2, kBackup, 129);
    EXPECT_FALSE(refused.granted);
    EXPECT_EQ(refused.epoch, 1u);
    EXPECT_FALSE(v.would_grant(2, kBackup, 129));
    EXPECT_TRUE(v.would_grant(2, kBackup, 130));
    auto granted = v.on_request(2, kBackup, 130);
    EXPECT_TRUE(granted.granted);
    EXPECT_EQ(granted.epoch, 2u);
    EXPECT_EQ(v.granted_to(), kBackup);
    // The old primary is stale now: refused, told epoch 2.
    auto stale = v.on_request(1, kPrimary, 131);
    EXPECT_FALSE(stale.granted);
    EXPECT_EQ(stale.epoch, 2u);
    // One vote per epoch: another candidate for 2 is refused, whenever it asks.
    EXPECT_FALSE(v.on_request(2, kOther, 10'000).granted);
    // The elected one is renewed as the primary of epoch 2.
    EXPECT_TRUE(v.on_request(2, kBackup, 150).granted);
    EXPECT_EQ(v.promised_until_ms(), 180u);
}

TEST(Voter, AKeptPrimaryKeepsTheVoteAwayFromACandidate) {
    // The partition where the primary still reaches the witness: every renewal pushes
    // the promise on, and the backup's candidacy never wins.
    Voter v(kLease, 0);
    for (uint64_t t = 100; t < 1000; t += 10) {
        ASSERT_TRUE(v.on_request(1, kPrimary, t).granted);
        ASSERT_FALSE(v.on_request(2, kBackup, t + 5).granted) << "at " << t + 5;
    }
}

TEST(Voter, WouldGrantChangesNothing) {
    Voter v(kLease, 0);
    EXPECT_TRUE(v.would_grant(3, kBackup, 100));
    EXPECT_EQ(v.epoch(), 0u);
    EXPECT_EQ(v.granted_to(), 0u);
    EXPECT_EQ(v.promised_until_ms(), 0u);
}

TEST(Voter, PromisesTheLongerOfItsLeaseAndTheOneAskedFor) {
    Voter v(kLease, 0);
    ASSERT_TRUE(v.on_request(1, kPrimary, 100, 80).granted);
    EXPECT_EQ(v.promised_until_ms(), 180u);
    EXPECT_FALSE(v.on_request(2, kBackup, 179).granted);
    EXPECT_TRUE(v.on_request(2, kBackup, 180).granted);
}

TEST(Voter, EpochZeroIsNeverGranted) {
    Voter v(kLease, 0);
    EXPECT_FALSE(v.on_request(0, kPrimary, 100).granted);
}

TEST(Voter, APrimaryThatHandsOverGivesItsPromisesBackAndTheNewEpochIsGrantedAtOnce) {
    Voter v(kLease, 0);
    ASSERT_TRUE(v.on_request(1, kPrimary, 100).granted);  // promised until 130
    EXPECT_FALSE(v.would_grant(2, kBackup, 110));
    // Only the vote this voter holds can be given back, and only by its holder.
    EXPECT_FALSE(v.release(1, kBackup));
    EXPECT_FALSE(v.release(2, kPrimary));
    EXPECT_FALSE(v.would_grant(2, kBackup, 110));
    // The primary handed over: the promise made to it ends now.
    EXPECT_TRUE(v.release(1, kPrimary));
    EXPECT_EQ(v.promised_until_ms(), 0u);
    EXPECT_FALSE(v.release(1, kPrimary));  // once
    // A late heartbeat of the old primary at its epoch renews nothing.
    EXPECT_FALSE(v.on_request(1, kPrimary, 111).granted);
    EXPECT_EQ(v.promised_until_ms(), 0u);
    // Still one vote per epoch: another node at epoch 1 is refused too.
    EXPECT_FALSE(v.on_request(1, kOther, 111).granted);
    // The next epoch is granted at once, with a promise of its own.
    EXPECT_TRUE(v.would_grant(2, kBackup, 111));
    auto granted = v.on_request(2, kBackup, 111);
    EXPECT_TRUE(granted.granted);
    EXPECT_EQ(granted.epoch, 2u);
    EXPECT_EQ(v.promised_until_ms(), 141u);
    // And that vote is held as any other: renewed for its holder, refused to the rest.
    EXPECT_TRUE(v.on_request(2, kBackup, 120).granted);
    EXPECT_FALSE(v.on_request(3, kOther, 140).granted);
}

TEST(Voter, AVoterThatJustStartedStaysQuietAfterARelease) {
    // A release ends the promises this voter knows of, not those it may have made
    // before a restart.
    Voter v(kLease, 1000);
    EXPECT_FALSE(v.release(0, 0));
    EXPECT_FALSE(v.would_grant(1, kBackup, 1010));
    EXPECT_TRUE(v.would_grant(1, kBackup, 1030));
}
