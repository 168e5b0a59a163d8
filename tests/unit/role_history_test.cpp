// The roles a node reports in its status: in order, bounded, the first one kept.
#include "userd/node/role_history.h"

#include <gtest/gtest.h>

namespace tcpfo {
namespace {

TEST(RoleHistory, KeepsEveryRoleInOrderWithItsEpochAndReason) {
    RoleHistory h;
    EXPECT_EQ(h.current(), "none");
    h.enter("backup", 0, "joined: a peer serves at epoch 2");
    h.enter("taking-over", 3, "no heartbeat for 32 ms");
    h.enter("primary", 3, "the takeover serves");
    ASSERT_EQ(h.entries().size(), 3u);
    EXPECT_EQ(h.current(), "primary");
    EXPECT_EQ(h.entries()[0].why, "joined: a peer serves at epoch 2");
    EXPECT_EQ(h.entries()[1].epoch, 3u);
    EXPECT_LE(h.entries()[0].since_us, h.entries()[2].since_us);
}

TEST(RoleHistory, IsBoundedAndKeepsHowTheNodeStarted) {
    RoleHistory h;
    h.enter("backup", 0, "the node list's role");
    for (int i = 0; i < 100; ++i) h.enter(i % 2 ? "primary" : "taking-over", uint64_t(i + 1), "");
    ASSERT_EQ(h.entries().size(), RoleHistory::kMaxEntries);
    EXPECT_EQ(h.entries().front().why, "the node list's role");
    EXPECT_EQ(h.entries().back().epoch, 100u);
}

}  // namespace
}  // namespace tcpfo
