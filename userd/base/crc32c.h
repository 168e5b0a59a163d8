// CRC-32C (Castagnoli), the checksum of every replication record: a corrupt record
// must be detected and refused, never applied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tcpfo {

// Uses the CPU's CRC-32C instruction where there is one.
uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);
// The table-driven version, for CPUs without it and as the tests' reference.
uint32_t crc32c_portable(std::span<const uint8_t> data, uint32_t crc = 0);

}  // namespace tcpfo
