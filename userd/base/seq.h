// TCP sequence arithmetic. Sequence numbers are 32-bit and wrap; the replication
// protocol speaks in 64-bit stream offsets (bytes since the SYN), which never wrap.
#pragma once

#include <cstdint>

namespace tcpfo {

// RFC 1982 serial-number comparison, as the kernel's before()/after().
constexpr bool seq_before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
constexpr bool seq_after(uint32_t a, uint32_t b) { return seq_before(b, a); }
constexpr uint32_t seq_max(uint32_t a, uint32_t b) { return seq_after(a, b) ? a : b; }
constexpr uint32_t seq_min(uint32_t a, uint32_t b) { return seq_before(a, b) ? a : b; }

// Maps a 32-bit sequence number to a 64-bit stream offset. `base` is the sequence
// number of offset 0 (ISN + 1); `near` is an offset known to be within 2^31 of the
// answer (the stream's current end): TCP never has more than 2^31 bytes in flight,
// so the nearest candidate is the right one. Offsets before 0 clamp to 0's side:
// a result that would be negative is returned as a huge value the caller rejects.
constexpr uint64_t seq_to_offset(uint32_t seq, uint32_t base, uint64_t near) {
    const uint32_t near_seq = base + static_cast<uint32_t>(near);
    const int32_t delta = static_cast<int32_t>(seq - near_seq);
    return near + static_cast<int64_t>(delta);
}

// The sequence number of a stream offset.
constexpr uint32_t offset_to_seq(uint64_t offset, uint32_t base) {
    return base + static_cast<uint32_t>(offset);
}

}  // namespace tcpfo
