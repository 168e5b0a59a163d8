// Crafted Ethernet/IPv4/TCP frames for BPF_PROG_TEST_RUN, and an independent check of
// the checksums the programs must keep valid.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace tcpfo::test {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

struct TcpSegmentSpec {
    uint32_t src_addr = 0;  // network order
    uint32_t dst_addr = 0;  // network order
    uint16_t src_port = 0;  // host order
    uint16_t dst_port = 0;  // host order
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint8_t flags = kAck;
    uint16_t window = 502;
    std::vector<uint8_t> options;  // padded with NOPs to a multiple of 4
    std::vector<uint8_t> payload;
};

std::vector<uint8_t> build_frame(const TcpSegmentSpec& spec);

// Option builders (raw bytes as on the wire).
std::vector<uint8_t> opt_mss(uint16_t mss);
std::vector<uint8_t> opt_wscale(uint8_t shift);
std::vector<uint8_t> opt_sack_perm();
std::vector<uint8_t> opt_timestamps(uint32_t tsval, uint32_t tsecr);
std::vector<uint8_t> opt_sack(const std::vector<std::pair<uint32_t, uint32_t>>& blocks);
std::vector<uint8_t> opt_nops(size_t n);
std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts);

// Field readers of a frame built by build_frame (IPv4 header without options).
constexpr size_t kTcpOffset = 14 + 20;
uint32_t frame_ack(std::span<const uint8_t> frame);
std::vector<uint8_t> frame_tcp_options(std::span<const uint8_t> frame);

// Gives the frame's TCP checksum field what a sender that offloads the checksum leaves
// there (CHECKSUM_PARTIAL): the pseudo-header's folded sum only, not a valid checksum.
void set_partial_checksum(std::vector<uint8_t>& frame);

// True when the IPv4 header checksum and the TCP checksum (pseudo-header included)
// of the frame are both valid: computed from scratch, not incrementally.
bool checksums_valid(std::span<const uint8_t> frame);

}  // namespace tcpfo::test
