#include "crc32c.h"

#include <array>

namespace tcpfo {
namespace {

// Reflected polynomial 0x1EDC6F41; table built at compile time.
constexpr std::array<uint32_t, 256> make_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
    return table;
}
constexpr auto kTable = make_table();

}  // namespace

uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc) {
    crc = ~crc;
    for (uint8_t byte : data) crc = kTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
    return ~crc;
}

}  // namespace tcpfo
