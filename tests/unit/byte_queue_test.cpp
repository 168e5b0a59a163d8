#include "userd/base/byte_queue.h"

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(ByteQueue, AppendsInPlaceAfterAPartialConsumeWithoutLosingOrder) {
    ByteQueue q;
    std::vector<uint8_t> expected;
    uint8_t next = 0;
    for (int round = 0; round < 2000; ++round) {
        auto& tail = q.raw_tail();
        for (int i = 0; i < 100; ++i) {
            tail.push_back(next);
            expected.push_back(next++);
        }
        const size_t take = round % 3 == 0 ? 150 : 40;  // consume unevenly
        const auto front = q.front();
        const size_t n = std::min(take, front.size());
        ASSERT_TRUE(std::equal(front.begin(), front.begin() + n, expected.begin()));
        expected.erase(expected.begin(), expected.begin() + n);
        q.pop_front(n);
        ASSERT_EQ(q.size(), expected.size());
    }
    EXPECT_TRUE(std::equal(q.front().begin(), q.front().end(), expected.begin(), expected.end()));
}

TEST(ByteQueue, ReleasesItsMemoryOnlyWhenEmpty) {
    ByteQueue q;
    std::vector<uint8_t> block(4096, 7);
    q.append(block);
    q.release_if_empty();
    EXPECT_GE(q.capacity(), block.size()) << "released while holding bytes";
    q.pop_front(4000);
    q.release_if_empty();
    ASSERT_EQ(q.size(), 96u);
    EXPECT_EQ(q.front()[0], 7);
    q.pop_front(96);
    EXPECT_GT(q.capacity(), 0u) << "emptying alone keeps the capacity (busy queues reuse it)";
    q.release_if_empty();
    EXPECT_EQ(q.capacity(), 0u);
    q.append(block);  // still usable afterwards
    EXPECT_EQ(q.size(), block.size());
}

TEST(ByteQueue, MovingHandsTheBytesOverWithoutCopyingAndLeavesAnEmptyQueue) {
    ByteQueue q;
    std::vector<uint8_t> block(1000);
    for (size_t i = 0; i < block.size(); ++i) block[i] = uint8_t(i);
    q.append(block);
    q.pop_front(100);  // a consumed prefix: the new owner must start at byte 100
    const uint8_t* where = q.front().data();

    ByteQueue moved(std::move(q));
    ASSERT_EQ(moved.size(), 900u);
    EXPECT_EQ(moved.front().data(), where) << "the bytes were copied, not handed over";
    EXPECT_EQ(moved.front()[0], 100);
    EXPECT_EQ(q.size(), 0u) << "the moved-from queue must be empty, not a stale offset";  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(q.empty());
    q.append(std::span(block).first(10));  // and still usable
    EXPECT_EQ(q.size(), 10u);
    EXPECT_EQ(q.front()[9], 9);

    ByteQueue assigned;
    assigned.append(std::span(block).first(5));
    moved.pop_front(50);
    assigned = std::move(moved);
    ASSERT_EQ(assigned.size(), 850u);
    EXPECT_EQ(assigned.front()[0], 150);
    EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)
}
