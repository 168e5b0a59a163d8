#include "replay/output_digest.h"

#include <algorithm>
#include <cstring>

#include <endian.h>

namespace tcpfo {

namespace {

// The Internet checksum's sum, modulo 0xffff (0xffff and 0 are the same sum).
uint32_t sum_mod_ffff(uint64_t sum) { return uint32_t(sum % 0xffff); }

// The sum of `bytes` as little-endian 16-bit words, the first byte low, modulo 0xffff
// up to a multiple (not reduced). Because 2^16 = 1 modulo 0xffff, a little-endian
// 64-bit load sums as its two 32-bit halves and each of those as its two 16-bit
// words: eight bytes per step instead of two (the byte-pair loop this replaces was
// 17% of a busy backup's samples). At most one chunk (512 bytes) per call: 64 steps
// of at most 2^33 each cannot overflow.
uint64_t sum_le_words(std::span<const uint8_t> bytes) {
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        uint64_t v;
        std::memcpy(&v, bytes.data() + i, 8);
        v = le64toh(v);
        sum += (v & 0xffffffffu) + (v >> 32);
    }
    for (; i < bytes.size(); ++i) sum += uint64_t(bytes[i]) << (8 * (i & 1));
    return sum;
}

// Adds bytes that start `at` bytes into their chunk. A piece that starts at an odd
// position has every byte in the other half of its word: its sum times 2^8.
uint64_t add_words(uint64_t sum, uint64_t at, std::span<const uint8_t> bytes) {
    const uint64_t piece = sum_le_words(bytes);
    if (at & 1) return sum + (piece % 0xffff << 8);
    return sum + piece;
}

}  // namespace

void SpanDigest::update(std::span<const uint8_t> bytes) {
    while (!bytes.empty()) {
        const uint64_t at = size_ % kDigestChunk;
        const size_t n = size_t(std::min<uint64_t>(bytes.size(), kDigestChunk - at));
        chunk_sum_ = add_words(chunk_sum_, at, bytes.first(n));
        size_ += n;
        bytes = bytes.subspan(n);
        if (size_ % kDigestChunk == 0) {
            a_ += sum_mod_ffff(chunk_sum_);
            b_ += a_;
            chunk_sum_ = 0;
        }
    }
}

uint64_t SpanDigest::value() const {
    uint32_t a = a_, b = b_;
    if (size_ % kDigestChunk != 0) {
        a += sum_mod_ffff(chunk_sum_);
        b += a;
    }
    return uint64_t(b) << 32 | a;
}

uint64_t digest_of(std::span<const uint8_t> bytes) {
    SpanDigest d;
    d.update(bytes);
    return d.value();
}

}  // namespace tcpfo
