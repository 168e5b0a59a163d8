#include "replay/replica_output.h"

#include <vector>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 131 + 7);
    return v;
}
}  // namespace

TEST(ReplicaOutput, KeepsOnlyWhatTheClientHasNotAcknowledged) {
    ReplicaOutput out(1 << 20);
    const auto data = pattern(1000);
    out.append(std::span(data).first(600));
    out.acknowledge(200);
    EXPECT_EQ(out.unacked().size(), 400u);
    EXPECT_EQ(out.unacked()[0], data[200]);
    // The client acknowledged bytes the replica has not produced yet (it lags).
    out.acknowledge(800);
    EXPECT_TRUE(out.unacked().empty());
    out.append(std::span(data).subspan(600, 400));
    ASSERT_EQ(out.unacked().size(), 200u);
    EXPECT_EQ(out.unacked()[0], data[800]);
    EXPECT_EQ(out.produced(), 1000u);
}

TEST(ReplicaOutput, HandsItsUnacknowledgedOutputOverWithoutCopying) {
    ReplicaOutput out(1 << 20);
    const auto data = pattern(5000);
    out.append(data);
    out.acknowledge(1000);
    const uint8_t* where = out.unacked().data();

    ByteQueue taken = out.take_unacked();
    ASSERT_EQ(taken.size(), 4000u);
    EXPECT_EQ(taken.front().data(), where) << "the output was copied, not moved";
    EXPECT_EQ(taken.front()[0], data[1000]);
    EXPECT_TRUE(out.unacked().empty());
    // The stream positions do not change: the splice's skip is computed from them.
    EXPECT_EQ(out.produced(), 5000u);
    EXPECT_EQ(out.acked(), 1000u);
}
