// When a stalled campaign asks again (userd/cluster/stalled_campaign.h): only once its
// own vote went to another candidate at its epoch, only after three leases plus its
// node id's stagger, and then for the epoch after the one its voter promised.
#include "userd/cluster/stalled_campaign.h"

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
constexpr uint32_t kSelf = 0x0b0200c0, kOther = 0x0c0200c0;  // 192.0.2.11, 192.0.2.12
const CampaignTiming kTiming{100, 10, 2};                    // patience 3 x 100 + 2 x 10 = 320 ms

StalledCampaign gave_vote_away() { return {1000, 2, 2, kOther, kSelf}; }
}  // namespace

TEST(StalledCampaign, AsksForTheNextEpochOnceItsVoteWentToAnotherCandidate) {
    EXPECT_EQ(retry_epoch(gave_vote_away(), kTiming, 1000 + 320), 3u);
}

TEST(StalledCampaign, WaitsThreeLeasesPlusItsStagger) {
    EXPECT_FALSE(retry_epoch(gave_vote_away(), kTiming, 1000 + 319));
    // Node 3 waits one interval longer than node 2: two stalled candidates do not retry in step.
    EXPECT_FALSE(retry_epoch(gave_vote_away(), {100, 10, 3}, 1000 + 329));
    EXPECT_EQ(retry_epoch(gave_vote_away(), {100, 10, 3}, 1000 + 330), 3u);
}

TEST(StalledCampaign, GoesOnWhileItsOwnVoteIsItsOwn) {
    StalledCampaign own = gave_vote_away();
    own.voter_granted_to = kSelf;
    EXPECT_FALSE(retry_epoch(own, kTiming, 1000 + 5000));
}

TEST(StalledCampaign, GoesOnWhileItsVoterPromisedOnlyAnOlderEpoch) {
    StalledCampaign older = gave_vote_away();
    older.voter_epoch = 1;  // the promise to the dead primary's epoch
    EXPECT_FALSE(retry_epoch(older, kTiming, 1000 + 5000));
}

TEST(StalledCampaign, SkipsPastAHigherEpochItsVoterAlreadyPromised) {
    StalledCampaign later = gave_vote_away();
    later.voter_epoch = 4;
    EXPECT_EQ(retry_epoch(later, kTiming, 1000 + 320), 5u);
}

TEST(StalledCampaign, AClockBeforeTheCampaignStartIsNotAStall) {
    EXPECT_FALSE(retry_epoch(gave_vote_away(), kTiming, 999));
}
