// The lag in time of one backup: the age of the oldest byte forwarded to it and not yet
// acknowledged, with time passed in (never slept). Its ring is bounded, and when full
// the answer may be older than the truth, never younger.
#include "userd/primary/replication_lag.h"

#include <deque>
#include <utility>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
constexpr uint64_t kMs = 1000;
}  // namespace

TEST(ReplicationLag, NothingForwardedIsNoLag) {
    ReplicationLag lag;
    EXPECT_EQ(lag.lag_us(5 * kMs), 0u);
    EXPECT_EQ(lag.outstanding(), 0u);
    lag.note_forwarded(0, 1 * kMs);
    EXPECT_EQ(lag.lag_us(5 * kMs), 0u);
    EXPECT_EQ(lag.marks(), 0u);
}

TEST(ReplicationLag, TheOldestByteWaitingSetsTheLag) {
    ReplicationLag lag;
    lag.note_forwarded(100, 10 * kMs);  // bytes 1..100
    lag.note_forwarded(100, 20 * kMs);  // 101..200
    lag.note_forwarded(100, 30 * kMs);  // 201..300
    EXPECT_EQ(lag.lag_us(35 * kMs), 25 * kMs);
    EXPECT_EQ(lag.outstanding(), 300u);

    lag.note_acknowledged(50);  // byte 51, forwarded at 10 ms, still waits
    EXPECT_EQ(lag.lag_us(35 * kMs), 25 * kMs);
    lag.note_acknowledged(50);  // the first mark wholly held
    EXPECT_EQ(lag.lag_us(35 * kMs), 15 * kMs);
    lag.note_acknowledged(150);  // byte 251 waits, forwarded at 30 ms
    EXPECT_EQ(lag.lag_us(35 * kMs), 5 * kMs);
    EXPECT_EQ(lag.outstanding(), 50u);

    lag.note_acknowledged(50);  // everything held
    EXPECT_EQ(lag.lag_us(35 * kMs), 0u);
    EXPECT_EQ(lag.lag_us(900 * kMs), 0u) << "no byte waits, however long since";
    EXPECT_EQ(lag.marks(), 0u);

    lag.note_forwarded(10, 1000 * kMs);  // new bytes start a new wait
    EXPECT_EQ(lag.lag_us(1002 * kMs), 2 * kMs);
}

TEST(ReplicationLag, BytesWithinAMillisecondShareAMarkAndItsOlderTime) {
    ReplicationLag lag;
    lag.note_forwarded(10, 10 * kMs);
    lag.note_forwarded(10, 10 * kMs + 400);
    lag.note_forwarded(10, 10 * kMs + 999);
    EXPECT_EQ(lag.marks(), 1u);
    lag.note_forwarded(10, 11 * kMs);
    EXPECT_EQ(lag.marks(), 2u);
    // Bytes 21..30 (forwarded at 10.999 ms) count from 10 ms: older, not younger.
    lag.note_acknowledged(25);
    EXPECT_EQ(lag.lag_us(20 * kMs), 10 * kMs);
    lag.note_acknowledged(5);
    EXPECT_EQ(lag.lag_us(20 * kMs), 9 * kMs);
}

TEST(ReplicationLag, AcknowledgedNeverPassesForwarded) {
    ReplicationLag lag;
    lag.note_forwarded(10, 1 * kMs);
    lag.note_acknowledged(25);
    EXPECT_EQ(lag.outstanding(), 0u);
    EXPECT_EQ(lag.lag_us(5 * kMs), 0u);
    // The surplus is not banked against bytes forwarded later.
    lag.note_forwarded(10, 6 * kMs);
    EXPECT_EQ(lag.lag_us(8 * kMs), 2 * kMs);
}

TEST(ReplicationLag, ResetForgetsEverything) {
    ReplicationLag lag;
    lag.note_forwarded(10, 1 * kMs);
    lag.reset();
    EXPECT_EQ(lag.lag_us(50 * kMs), 0u);
    EXPECT_EQ(lag.forwarded(), 0u);
    EXPECT_EQ(lag.acknowledged(), 0u);
    EXPECT_EQ(lag.marks(), 0u);
}

// Against the exact answer (every forwarding remembered): a full ring merges marks,
// and the lag it reports is then never younger than the truth, and exact at the
// moments the oldest waiting byte begins a mark.
TEST(ReplicationLag, AFullRingNeverUnderReports) {
    ReplicationLag lag;
    std::deque<std::pair<uint64_t, uint64_t>> exact;  // (cumulative end, time) per forwarding
    uint64_t forwarded = 0, acknowledged = 0, now = 0;
    auto truth = [&] {
        while (!exact.empty() && exact.front().first <= acknowledged) exact.pop_front();
        return exact.empty() ? uint64_t(0) : now - exact.front().second;
    };
    size_t most_marks = 0;
    // Forward 7 bytes every 1.5 ms; acknowledge 2 bytes a millisecond for the first
    // second, so the peer falls behind and the ring fills, then 40 (it catches up).
    for (int step = 0; step < 6000; ++step) {
        now += 500;
        if (step % 3 == 0) {
            forwarded += 7;
            lag.note_forwarded(7, now);
            exact.emplace_back(forwarded, now);
        }
        if (step % 2 == 0) {
            const uint64_t ack = std::min<uint64_t>(step < 2000 ? 2 : 40, forwarded - acknowledged);
            acknowledged += ack;
            lag.note_acknowledged(ack);
        }
        most_marks = std::max(most_marks, lag.marks());
        ASSERT_LE(lag.marks(), ReplicationLag::kMarks);
        ASSERT_EQ(lag.outstanding(), forwarded - acknowledged);
        ASSERT_GE(lag.lag_us(now), truth()) << "step " << step;
    }
    EXPECT_EQ(most_marks, ReplicationLag::kMarks) << "the ring filled, so marks were merged";
    EXPECT_EQ(lag.mark_interval_us(), ReplicationLag::kMarkIntervalUs) << "and fine again once caught up";
    EXPECT_EQ(lag.outstanding(), 0u) << "caught up in the end";
    EXPECT_EQ(lag.lag_us(now), 0u);
}

TEST(ReplicationLag, AFullRingStillEndsOnTheOldestWaitingByte) {
    // A peer that acknowledges nothing: merged or not, the oldest mark keeps the first
    // byte's time, so the lag is exact.
    ReplicationLag lag;
    for (uint64_t t = 0; t < 1000; ++t) lag.note_forwarded(1, 5 * kMs + t * kMs);
    EXPECT_LE(lag.marks(), ReplicationLag::kMarks);
    EXPECT_EQ(lag.lag_us(2000 * kMs), 1995 * kMs);
    // Half acknowledged: the answer moves on, within one (coarser) mark interval of
    // the truth (byte 501 was forwarded at 505 ms), never younger.
    EXPECT_GT(lag.mark_interval_us(), ReplicationLag::kMarkIntervalUs);
    EXPECT_LE(lag.mark_interval_us(), 1000 * kMs / (ReplicationLag::kMarks / 2)) << "marks span equal times";
    lag.note_acknowledged(500);
    const uint64_t got = lag.lag_us(2000 * kMs);
    EXPECT_GE(got, 1495 * kMs);
    EXPECT_LT(got, 1495 * kMs + lag.mark_interval_us());
    // Caught up: fine marks again.
    lag.note_acknowledged(500);
    EXPECT_EQ(lag.lag_us(2000 * kMs), 0u);
    EXPECT_EQ(lag.mark_interval_us(), ReplicationLag::kMarkIntervalUs);
}
