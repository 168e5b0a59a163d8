// The packet tests' own checksum check, written apart from the code under test
// (userd/hooks/server_segment.cpp) so that a mistake there cannot cancel out here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpfo::test {

// One's-complement sum over 16-bit words (RFC 1071), a trailing odd byte padded with
// zero: a header or segment whose checksum field is valid sums to 0xffff.
inline uint16_t ones_sum(const std::vector<uint8_t>& bytes) {
    uint64_t sum = 0;
    for (size_t i = 0; i < bytes.size(); i += 2) {
        uint16_t word = uint16_t(bytes[i] << 8);
        if (i + 1 < bytes.size()) word |= bytes[i + 1];
        sum += word;
    }
    while (sum > 0xffff) sum = (sum >> 16) + (sum & 0xffff);
    return uint16_t(sum);
}

}  // namespace tcpfo::test
