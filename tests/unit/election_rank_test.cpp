// The election rule (userd/cluster/election_rank.h): the most complete log wins (the
// latest stream, every connection held, then the most of it), then the higher
// priority, then the lower node id; nothing outranks itself.
#include "userd/cluster/election_rank.h"

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(ElectionRank, TheLongerLogWinsWhateverThePriority) {
    const ElectionRank more{2, true, 5000, 10, 3}, less{2, true, 4999, 250, 1};
    EXPECT_TRUE(outranks(more, less));
    EXPECT_FALSE(outranks(less, more));
}

TEST(ElectionRank, EqualLogsGoToTheHigherPriority) {
    const ElectionRank high{2, true, 5000, 200, 3}, low{2, true, 5000, 100, 1};
    EXPECT_TRUE(outranks(high, low));
    EXPECT_FALSE(outranks(low, high));
}

TEST(ElectionRank, ThenToTheLowerNodeId) {
    const ElectionRank first{2, true, 5000, 100, 2}, second{2, true, 5000, 100, 3};
    EXPECT_TRUE(outranks(first, second));
    EXPECT_FALSE(outranks(second, first));
}

TEST(ElectionRank, NothingOutranksItselfOrANodeWithoutAnId) {
    const ElectionRank a{2, true, 5000, 100, 2};
    EXPECT_FALSE(outranks(a, a));
    // The two-node shorthand sends no id: equal logs and priorities then rank the same,
    // so neither voter refuses the other (the voting rule decides, as before).
    const ElectionRank anonymous{2, true, 5000, 100, 0};
    EXPECT_FALSE(outranks(a, anonymous));
    EXPECT_FALSE(outranks(anonymous, a));
}

TEST(ElectionRank, AnEmptyLogRanksBelowAnyHeldByte) {
    EXPECT_TRUE(outranks({2, true, 1, 0, 9}, {2, true, 0, 255, 1}));
}

TEST(ElectionRank, ALaterPrimarysStreamIsTheNewerLogWhateverItsLength) {
    // A backup that followed the primary of epoch 3 holds what one still at epoch 2's
    // stream never saw, however long that stream was.
    EXPECT_TRUE(outranks({3, true, 10, 0, 9}, {2, true, 1u << 30, 255, 1}));
    EXPECT_FALSE(outranks({2, true, 1u << 30, 255, 1}, {3, true, 10, 0, 9}));
}

TEST(ElectionRank, HoldingEveryConnectionWinsOverALongerLogOfTheSameStream) {
    // After an election the winner's stream begins at once for every follower: a node
    // that rejoined late holds as much of it as one holding every old connection.
    const ElectionRank all{3, true, 100, 0, 4}, some{3, false, 5000, 255, 1};
    EXPECT_TRUE(outranks(all, some));
    EXPECT_FALSE(outranks(some, all));
    // The newer stream still comes first.
    EXPECT_TRUE(outranks({4, false, 1, 0, 9}, {3, true, 1u << 30, 255, 1}));
}
