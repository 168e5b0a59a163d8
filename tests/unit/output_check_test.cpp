#include "replay/output_check.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "replay/output_digest.h"

using namespace tcpfo;

namespace {

std::vector<uint8_t> bytes_of(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    return v;
}

OutputDigestRecord span_of(const std::vector<uint8_t>& stream, uint64_t offset, uint32_t length) {
    return {1, offset, length, digest_of(std::span(stream).subspan(size_t(offset), length))};
}

}  // namespace

TEST(SpanDigest, PiecesOfAnySizeGiveTheDigestOfTheWhole) {
    std::mt19937 rng(7);
    for (size_t len : {1u, 2u, 3u, 511u, 512u, 513u, 1448u, 4097u, 65536u}) {
        const auto data = bytes_of(len, uint32_t(len));
        const uint64_t whole = digest_of(data);
        for (int trial = 0; trial < 20; ++trial) {
            SpanDigest d;
            size_t at = 0;
            while (at < len) {
                const size_t n = std::min<size_t>(len - at, 1 + rng() % 700);
                d.update(std::span(data).subspan(at, n));
                at += n;
            }
            ASSERT_EQ(d.value(), whole) << len;
        }
    }
}

// The definition, one 16-bit word at a time (the hook's, bpf/tcpfo_events.h): each
// 512-byte chunk, zero-padded, summed as little-endian words modulo 0xffff; a is the
// sum of the chunk sums, b the sum of the running a's.
uint64_t reference_digest(std::span<const uint8_t> bytes) {
    uint32_t a = 0, b = 0;
    for (size_t chunk = 0; chunk < bytes.size(); chunk += kDigestChunk) {
        uint64_t sum = 0;
        for (size_t i = chunk; i < std::min(bytes.size(), chunk + kDigestChunk); i += 2) {
            const uint64_t high = i + 1 < bytes.size() && i + 1 < chunk + kDigestChunk ? bytes[i + 1] : 0;
            sum += bytes[i] | high << 8;
        }
        a += uint32_t(sum % 0xffff);
        b += a;
    }
    return uint64_t(b) << 32 | a;
}

TEST(SpanDigest, EqualsTheDefinitionForAnyLengthAndSplit) {
    std::mt19937 rng(11);
    for (int trial = 0; trial < 2000; ++trial) {
        const size_t len = rng() % 3000;
        std::vector<uint8_t> data(len);
        const int style = trial % 3;  // random, all 0xff (sums at the modulus), sparse
        for (auto& byte : data) byte = style == 0 ? uint8_t(rng()) : style == 1 ? 0xff : (rng() % 50 ? 0 : uint8_t(rng()));
        SpanDigest d;
        for (size_t at = 0; at < len;) {
            const size_t n = std::min<size_t>(len - at, 1 + rng() % 37);
            d.update(std::span(data).subspan(at, n));
            at += n;
        }
        ASSERT_EQ(d.value(), reference_digest(data)) << "length " << len << " style " << style;
        ASSERT_EQ(digest_of(data), reference_digest(data)) << "length " << len << " style " << style;
    }
}

TEST(SpanDigest, SeesChangedValuesAndMovedChunks) {
    auto data = bytes_of(2048, 1);
    const uint64_t original = digest_of(data);
    auto changed = data;
    changed[1000] ^= 0x01;  // a counter one higher, in one byte
    EXPECT_NE(digest_of(changed), original);
    auto swapped = data;  // two 512-byte chunks in the other order: the running sum counts order
    std::swap_ranges(swapped.begin(), swapped.begin() + 512, swapped.begin() + 512);
    EXPECT_NE(digest_of(swapped), original);
}

TEST(OutputCheck, DigestsBeforeTheReplicasBytesAreCheckedAsTheBytesCome) {
    const auto stream = bytes_of(10000, 2);
    OutputCheck check(0);
    check.expect(span_of(stream, 0, 1448), {}, 0);
    check.expect(span_of(stream, 1448, 3000), {}, 0);
    EXPECT_EQ(check.first_unchecked(), 0u);
    check.observe(0, std::span(stream).first(1000));
    EXPECT_EQ(check.first_unchecked(), 0u);
    check.observe(1000, std::span(stream).subspan(1000, 2000));
    EXPECT_EQ(check.first_unchecked(), 1448u);
    check.observe(3000, std::span(stream).subspan(3000, 7000));
    EXPECT_EQ(check.first_unchecked(), OutputCheck::kNone);
    EXPECT_EQ(check.checked_bytes(), 4448u);
    EXPECT_FALSE(check.diverged_at());
    EXPECT_TRUE(check.idle());
}

TEST(OutputCheck, DigestsAfterTheReplicasBytesAreCheckedAgainstTheKeptOutput) {
    const auto stream = bytes_of(8000, 3);
    OutputCheck check(0);
    check.observe(0, std::span(stream).first(5000));
    // The client acknowledged nothing yet: all 5000 are kept. One span whole, one
    // half written.
    check.expect(span_of(stream, 0, 2000), std::span(stream).first(5000), 0);
    check.expect(span_of(stream, 2000, 4000), std::span(stream).first(5000), 0);
    EXPECT_EQ(check.first_unchecked(), 2000u);
    check.observe(5000, std::span(stream).subspan(5000, 3000));
    EXPECT_EQ(check.first_unchecked(), OutputCheck::kNone);
    EXPECT_EQ(check.checked_bytes(), 6000u);
    EXPECT_FALSE(check.diverged_at());
}

TEST(OutputCheck, OtherBytesAreADivergenceAtTheSpanWhereTheyDiffer) {
    const auto primary = bytes_of(6000, 4);
    auto replica = primary;
    replica[4321] ^= 0x40;
    OutputCheck check(0);
    for (uint64_t at = 0; at < 6000; at += 1500) check.expect(span_of(primary, at, 1500), {}, 0);
    check.observe(0, std::span(replica).first(3000));
    EXPECT_FALSE(check.diverged_at());
    check.observe(3000, std::span(replica).subspan(3000));
    ASSERT_TRUE(check.diverged_at());
    EXPECT_EQ(*check.diverged_at(), 3000u);
    EXPECT_FALSE(check.idle());
}

TEST(OutputCheck, AReplicaThatEndsBeforeThePrimarysOutputDiverged) {
    const auto stream = bytes_of(3000, 5);
    OutputCheck check(0);
    check.expect(span_of(stream, 0, 3000), {}, 0);
    check.observe(0, std::span(stream).first(2500));
    check.replica_ended(2500);
    ASSERT_TRUE(check.diverged_at());
    EXPECT_EQ(*check.diverged_at(), 2500u);
}

TEST(OutputCheck, UncheckableSpansAreCountedNotGuessed) {
    const auto stream = bytes_of(4000, 6);
    OutputCheck check(0);
    check.expect(span_of(stream, 1000, 1000), {}, 0);
    check.expect(span_of(stream, 500, 1000), {}, 0);  // overlaps the one before: never sent so
    EXPECT_EQ(check.unchecked_spans(), 1u);
    check.observe(0, std::span(stream).first(3000));
    // A span over bytes the client acknowledged and the backup no longer keeps.
    check.expect(span_of(stream, 2000, 500), std::span(stream).subspan(2800, 200), 2800);
    EXPECT_EQ(check.unchecked_spans(), 2u);
    EXPECT_EQ(check.checked_bytes(), 1000u);
    EXPECT_FALSE(check.diverged_at());
}

TEST(OutputCheck, AtMostkMaxPendingSpansWait) {
    std::vector<uint8_t> stream(OutputCheck::kMaxPending + 10, 'x');
    OutputCheck check(0);
    for (uint64_t at = 0; at < stream.size(); ++at) check.expect(span_of(stream, at, 1), {}, 0);
    EXPECT_EQ(check.unchecked_spans(), 10u);
    check.observe(0, stream);
    EXPECT_EQ(check.checked_bytes(), OutputCheck::kMaxPending);
    EXPECT_TRUE(check.idle());
}

TEST(OutputCheck, AReplicaThatWritesPastThePrimarysFinDiverged) {
    const auto stream = bytes_of(3000, 7);
    OutputCheck before(0);  // the FIN is known before the replica wrote past it
    before.primary_ended(2000);
    EXPECT_FALSE(before.idle()) << "freed while it still has to watch the FIN";
    before.observe(0, std::span(stream).first(2000));
    EXPECT_FALSE(before.diverged_at());
    before.observe(2000, std::span(stream).subspan(2000, 1));
    ASSERT_TRUE(before.diverged_at());
    EXPECT_EQ(*before.diverged_at(), 2000u);

    OutputCheck after(0);  // the replica wrote past it first
    after.observe(0, std::span(stream).first(2500));
    after.primary_ended(2000);
    ASSERT_TRUE(after.diverged_at());
    EXPECT_EQ(*after.diverged_at(), 2000u);

    OutputCheck exact(0);  // the same length: no divergence
    exact.primary_ended(2000);
    exact.observe(0, std::span(stream).first(2000));
    exact.replica_ended(2000);
    EXPECT_FALSE(exact.diverged_at());
}
