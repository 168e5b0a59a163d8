#include "userd/base/seq.h"

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(Seq, ComparesAcrossWraparound) {
    EXPECT_TRUE(seq_before(0xfffffff0u, 0x10u));
    EXPECT_TRUE(seq_after(0x10u, 0xfffffff0u));
    EXPECT_FALSE(seq_before(5, 5));
    EXPECT_FALSE(seq_after(5, 5));
    EXPECT_EQ(seq_max(0xfffffff0u, 0x10u), 0x10u);
    EXPECT_EQ(seq_min(0xfffffff0u, 0x10u), 0xfffffff0u);
}

TEST(Seq, OffsetOfSequenceAcrossWraparound) {
    const uint32_t base = 0xffffff00u;  // ISN + 1 just below the wrap
    EXPECT_EQ(seq_to_offset(0xffffff00u, base, 0), 0u);
    EXPECT_EQ(seq_to_offset(0x00000010u, base, 0), 0x110u);
    // Far into the stream: several wraps have happened; `near` disambiguates.
    const uint64_t near = (uint64_t(3) << 32) + 100;
    const uint32_t seq = offset_to_seq(near + 5000, base);
    EXPECT_EQ(seq_to_offset(seq, base, near), near + 5000);
    // A retransmission slightly behind `near` maps behind it, not 4 GiB ahead.
    const uint32_t old_seq = offset_to_seq(near - 1000, base);
    EXPECT_EQ(seq_to_offset(old_seq, base, near), near - 1000);
}

TEST(Seq, RoundTripsEveryOffsetNearAWrap) {
    const uint32_t base = 0x7fffffffu;
    for (uint64_t off = (uint64_t(1) << 32) - 70000; off < (uint64_t(1) << 32) + 70000; off += 97) {
        EXPECT_EQ(seq_to_offset(offset_to_seq(off, base), base, off - 30000), off);
        EXPECT_EQ(seq_to_offset(offset_to_seq(off, base), base, off + 30000), off);
    }
}
