#include "replay/output_digest.h"

#include <algorithm>
#include <cstring>

namespace tcpfo {

namespace {

// The Internet checksum's sum, modulo 0xffff (0xffff and 0 are the same sum).
uint32_t sum_mod_ffff(uint64_t sum) { return uint32_t(sum % 0xffff); }

// Adds bytes that start `at` bytes into their chunk, as little-endian 16-bit words.
uint64_t add_words(uint64_t sum, uint64_t at, std::span<const uint8_t> bytes) {
    size_t i = 0;
    if ((at & 1) && !bytes.empty()) sum += uint64_t(bytes[i++]) << 8;  // high byte of a word begun before
    for (; i + 2 <= bytes.size(); i += 2) sum += uint64_t(bytes[i]) | uint64_t(bytes[i + 1]) << 8;
    if (i < bytes.size()) sum += bytes[i];  // low byte of a word the next piece (or the padding) ends
    return sum;
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
