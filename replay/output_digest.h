// The digest of one span of the server's output, computed the way the primary's
// egress hook computes it (bpf/tcpfo_events.h, OUT_DIGEST), so that a backup can
// check its replica's output against what the primary really sent.
//
// It is a checksum, not a cryptographic hash: it catches a replica that wrote other
// bytes (another counter value, other random bytes, another time), not a collision
// built on purpose. The hook can afford it on every segment: bpf_csum_diff sums 512
// bytes per call in the kernel, at memory speed.
#pragma once

#include <cstdint>
#include <span>

#include <linux/types.h>

#include "bpf/tcpfo_events.h"

namespace tcpfo {

inline constexpr uint32_t kDigestChunk = TCPFO_DIGEST_CHUNK;

// Fed the span's bytes in order, in pieces of any size.
class SpanDigest {
public:
    void update(std::span<const uint8_t> bytes);
    // The digest of the bytes fed so far, as a whole span (the last chunk may be
    // partial: it counts zero-padded, as in the hook).
    uint64_t value() const;
    uint64_t size() const { return size_; }

private:
    uint64_t chunk_sum_ = 0;  // little-endian 16-bit words of the current chunk
    uint64_t size_ = 0;
    uint32_t a_ = 0, b_ = 0;
};

uint64_t digest_of(std::span<const uint8_t> bytes);

}  // namespace tcpfo
