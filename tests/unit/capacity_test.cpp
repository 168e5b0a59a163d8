#include "userd/config/capacity.h"

#include <sys/resource.h>

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(Capacity, BackupHoldsTwoDescriptorsPerConnectionAfterTheReserve) {
    // This machine's case: a hard limit of 20,000 that root cannot raise.
    EXPECT_EQ(backup_capacity(20000, 65536), (20000 - kDescriptorReserve) / 2);
    EXPECT_GE(backup_capacity(20000, 65536), 9000u);
    EXPECT_LT(backup_capacity(20000, 65536), 10000u);
    EXPECT_EQ(backup_capacity(1 << 20, 65536), 65536u) << "the BPF tables bound it";
    EXPECT_EQ(backup_capacity(kDescriptorReserve, 65536), 0u);
    EXPECT_EQ(backup_capacity(0, 65536), 0u);
    EXPECT_EQ(primary_capacity(65536), 65536u);
}

TEST(Capacity, RaisesTheSoftLimitToTheHardOne) {
    rlimit before{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
    if (before.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "unlimited hard limit";
    if (before.rlim_max > 64) {
        rlimit lower = before;
        lower.rlim_cur = 64;
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lower), 0);
    }
    auto raised = raise_open_file_limit();
    ASSERT_TRUE(raised) << raised.error().message;
    EXPECT_EQ(raised->soft, before.rlim_max);
    EXPECT_EQ(raised->hard, before.rlim_max);
    EXPECT_EQ(raised->raised, before.rlim_max > 64);
    rlimit after{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
    EXPECT_EQ(after.rlim_cur, before.rlim_max);
    auto again = raise_open_file_limit();
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->raised);
}
