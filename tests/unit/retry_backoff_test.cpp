#include "userd/transport/retry_backoff.h"

#include <gtest/gtest.h>

namespace tcpfo {
namespace {

TEST(RetryBackoff, StartsShortDoublesAndCaps) {
    RetryBackoff b(5, 40);
    EXPECT_EQ(b.next_delay_ms(), 5u);
    EXPECT_EQ(b.next_delay_ms(), 10u);
    EXPECT_EQ(b.next_delay_ms(), 20u);
    EXPECT_EQ(b.next_delay_ms(), 40u);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(b.next_delay_ms(), 40u);
    EXPECT_EQ(b.failures(), 104u);
}

TEST(RetryBackoff, ResetStartsShortAgain) {
    RetryBackoff b(5, 40);
    for (int i = 0; i < 10; ++i) b.next_delay_ms();
    b.reset();
    EXPECT_EQ(b.failures(), 0u);
    EXPECT_EQ(b.peek_ms(), 5u);
    EXPECT_EQ(b.next_delay_ms(), 5u);
}

TEST(RetryBackoff, CapThatIsNotAPowerOfTwoStepIsReachedExactly) {
    RetryBackoff b(5, 200);
    uint64_t last = 0;
    for (int i = 0; i < 10; ++i) last = b.next_delay_ms();
    EXPECT_EQ(last, 200u);
}

// The defaults keep the primary's connect latency to a backup that just started
// under 50 ms (the bound), whatever the backup's downtime was.
TEST(RetryBackoff, DefaultCapIsBelowTheConnectBound) {
    RetryBackoff b;
    EXPECT_EQ(b.next_delay_ms(), RetryBackoff::kInitialMs);
    uint64_t worst = 0;
    for (int i = 0; i < 1000; ++i) worst = std::max(worst, b.next_delay_ms());
    EXPECT_LT(worst, 50u);
}

TEST(RetryBackoff, DegenerateArgumentsAreClamped) {
    RetryBackoff zero(0, 0);
    EXPECT_EQ(zero.next_delay_ms(), 1u);
    RetryBackoff inverted(50, 10);
    EXPECT_EQ(inverted.next_delay_ms(), 50u);
    EXPECT_EQ(inverted.next_delay_ms(), 50u);
}

}  // namespace
}  // namespace tcpfo
