// CRC-32C (Castagnoli), the checksum of every replication record: a corrupt record
// must be detected and refused, never applied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tcpfo {

uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);

}  // namespace tcpfo
