#include "userd/backup/input_log.h"

#include <numeric>
#include <random>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
std::vector<uint8_t> pattern(size_t n, uint64_t from = 0) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t((from + i) * 131 + 7);
    return v;
}
std::vector<uint8_t> drain(InputLog& log) {
    std::vector<uint8_t> out(log.pending().begin(), log.pending().end());
    log.consume(out.size());
    return out;
}
}  // namespace

TEST(InputLog, KeepsEachByteOnceAcrossRetransmissions) {
    InputLog log(1 << 20, 1 << 20);
    const auto data = pattern(1000);
    EXPECT_EQ(log.insert(0, std::span(data).first(400)), InputLog::Insert::appended);
    EXPECT_EQ(log.insert(0, std::span(data).first(400)), InputLog::Insert::duplicate);
    EXPECT_EQ(log.insert(200, std::span(data).subspan(200, 500)), InputLog::Insert::appended);
    EXPECT_EQ(log.end(), 700u);
    EXPECT_EQ(drain(log), std::vector<uint8_t>(data.begin(), data.begin() + 700));
    EXPECT_EQ(log.fed(), 700u);
}

TEST(InputLog, HoldsOutOfOrderSegmentsUntilTheGapFills) {
    InputLog log(1 << 20, 1 << 20);
    const auto data = pattern(3000);
    EXPECT_EQ(log.insert(2000, std::span(data).subspan(2000, 1000)), InputLog::Insert::held_out_of_order);
    EXPECT_EQ(log.insert(1000, std::span(data).subspan(1000, 1000)), InputLog::Insert::held_out_of_order);
    EXPECT_EQ(log.end(), 0u);
    EXPECT_EQ(log.insert(0, std::span(data).first(1000)), InputLog::Insert::appended);
    EXPECT_EQ(log.end(), 3000u);
    EXPECT_EQ(log.held_bytes(), 0u);
    EXPECT_EQ(drain(log), data);
}

TEST(InputLog, RandomSegmentsReassembleExactly) {
    std::mt19937 rng(7);
    const auto data = pattern(200000);
    InputLog log(1 << 20, 1 << 20);
    std::vector<uint8_t> fed;
    while (log.end() < data.size()) {
        const uint64_t off = rng() % data.size();
        const size_t len = std::min<size_t>(1 + rng() % 3000, data.size() - off);
        log.insert(off, std::span(data).subspan(off, len));
        if (rng() % 4 == 0) { auto d = drain(log); fed.insert(fed.end(), d.begin(), d.end()); }
    }
    auto d = drain(log);
    fed.insert(fed.end(), d.begin(), d.end());
    EXPECT_EQ(fed, data);
}

TEST(InputLog, RefusesBeyondItsBoundsWithoutAcknowledging) {
    InputLog log(1000, 500);
    const auto data = pattern(3000);
    log.insert(0, std::span(data).first(1500));
    EXPECT_EQ(log.end(), 1000u);  // only what fits is logged and so acknowledged
    EXPECT_EQ(log.insert(1000, std::span(data).subspan(1000, 10)), InputLog::Insert::refused_full);
    EXPECT_EQ(log.insert(2000, std::span(data).subspan(2000, 600)), InputLog::Insert::refused_full);
    drain(log);
    EXPECT_EQ(log.insert(1000, std::span(data).subspan(1000, 500)), InputLog::Insert::appended);
    EXPECT_EQ(log.end(), 1500u);
}

TEST(InputLog, FinCountsAsOneByteOnceContiguous) {
    InputLog log(1 << 20, 1 << 20);
    const auto data = pattern(100);
    EXPECT_TRUE(log.set_fin(100));
    EXPECT_EQ(log.stable(), 0u);
    log.insert(0, data);
    EXPECT_TRUE(log.fin_logged());
    EXPECT_EQ(log.stable(), 101u);
    EXPECT_FALSE(log.set_fin(50));  // a second, different FIN is refused
}
