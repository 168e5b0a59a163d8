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

TEST(ReplicaOutput, ReadsAheadOnlyAsFarAsTheClientsWindowReaches) {
    constexpr size_t kLimit = 8 << 20;
    ReplicaOutput out(kLimit);
    // Before the client's window is known: the floor.
    EXPECT_EQ(out.room(), ReplicaOutput::kMinReadAhead);

    out.set_client_window(300 * 1024);
    EXPECT_EQ(out.room(), 300u * 1024);
    const auto data = pattern(200 * 1024);
    out.append(data);
    EXPECT_EQ(out.room(), 100u * 1024) << "kept output counts against the window";
    out.acknowledge(150 * 1024);
    EXPECT_EQ(out.room(), 250u * 1024) << "acknowledged output frees room";

    // A shut window (a slow reader) still leaves the floor: it may have reopened.
    out.set_client_window(0);
    EXPECT_EQ(out.read_ahead(), ReplicaOutput::kMinReadAhead);
    EXPECT_EQ(out.room(), ReplicaOutput::kMinReadAhead - 50 * 1024);
    // A huge window never lifts the read-ahead above the configured limit.
    out.set_client_window(uint64_t(1) << 40);
    EXPECT_EQ(out.read_ahead(), kLimit);

    // Output the replica produces while the client is ahead of it is dropped, not
    // counted.
    ReplicaOutput lagging(kLimit);
    lagging.acknowledge(100 * 1024);
    lagging.append(pattern(80 * 1024));
    EXPECT_TRUE(lagging.unacked().empty());
    EXPECT_EQ(lagging.room(), ReplicaOutput::kMinReadAhead);
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
