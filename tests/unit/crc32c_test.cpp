#include "userd/base/crc32c.h"

#include <random>
#include <string_view>

#include <gtest/gtest.h>

using namespace tcpfo;

TEST(Crc32c, MatchesTheStandardCheckValue) {
    // CRC-32C("123456789") = 0xE3069283 (RFC 3720, appendix B.4 check value).
    const std::string_view text = "123456789";
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    EXPECT_EQ(crc32c(bytes), 0xE3069283u);
    EXPECT_EQ(crc32c_portable(bytes), 0xE3069283u);
}

TEST(Crc32c, FastPathAgreesWithTheTableForEveryLengthAndSplit) {
    std::mt19937 rng(3720);
    std::vector<uint8_t> data(4096);
    for (auto& b : data) b = uint8_t(rng());
    for (size_t len = 0; len < 300; ++len) {
        const auto part = std::span<const uint8_t>(data).first(len);
        ASSERT_EQ(crc32c(part), crc32c_portable(part)) << "length " << len;
        // Chaining over a split equals one pass.
        const size_t cut = len / 3;
        ASSERT_EQ(crc32c(part.subspan(cut), crc32c(part.first(cut))), crc32c_portable(part));
    }
    EXPECT_EQ(crc32c(data), crc32c_portable(data));
}
