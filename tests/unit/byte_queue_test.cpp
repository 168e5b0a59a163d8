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
