#include "frame_builder.h"

#include <arpa/inet.h>

#include <cstring>

namespace tcpfo::test {
namespace {

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
    b[at] = v >> 8;
    b[at + 1] = v & 0xff;
}

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
    put16(b, at, v >> 16);
    put16(b, at + 2, v & 0xffff);
}

uint32_t sum16(std::span<const uint8_t> bytes, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < bytes.size(); i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
    if (bytes.size() % 2) sum += bytes.back() << 8;
    return sum;
}

uint16_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

uint32_t pseudo_header_sum(std::span<const uint8_t> frame, size_t tcp_len) {
    uint32_t sum = sum16(frame.subspan(14 + 12, 8));  // source and destination address
    return sum + 6 /* TCP */ + static_cast<uint32_t>(tcp_len);
}

}  // namespace

std::vector<uint8_t> build_frame(const TcpSegmentSpec& spec) {
    std::vector<uint8_t> options = spec.options;
    while (options.size() % 4) options.push_back(1);
    size_t tcp_len = 20 + options.size() + spec.payload.size();
    std::vector<uint8_t> f(14 + 20 + tcp_len, 0);

    const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 2}, src_mac[6] = {0x02, 0, 0, 0, 0, 1};
    std::memcpy(&f[0], dst_mac, 6);
    std::memcpy(&f[6], src_mac, 6);
    put16(f, 12, 0x0800);

    f[14] = 0x45;
    put16(f, 14 + 2, static_cast<uint16_t>(20 + tcp_len));
    put16(f, 14 + 6, 0x4000);  // DF
    f[14 + 8] = 64;
    f[14 + 9] = 6;
    std::memcpy(&f[14 + 12], &spec.src_addr, 4);
    std::memcpy(&f[14 + 16], &spec.dst_addr, 4);
    put16(f, 14 + 10, static_cast<uint16_t>(~fold(sum16({&f[14], 20}))));

    size_t t = kTcpOffset;
    put16(f, t, spec.src_port);
    put16(f, t + 2, spec.dst_port);
    put32(f, t + 4, spec.seq);
    put32(f, t + 8, spec.ack);
    f[t + 12] = static_cast<uint8_t>(((20 + options.size()) / 4) << 4);
    f[t + 13] = spec.flags;
    put16(f, t + 14, spec.window);
    std::memcpy(&f[t + 20], options.data(), options.size());
    if (!spec.payload.empty()) std::memcpy(&f[t + 20 + options.size()], spec.payload.data(), spec.payload.size());
    uint32_t sum = pseudo_header_sum(f, tcp_len) + sum16({&f[t], tcp_len});
    put16(f, t + 16, static_cast<uint16_t>(~fold(sum)));
    return f;
}

std::vector<uint8_t> opt_mss(uint16_t mss) { return {2, 4, uint8_t(mss >> 8), uint8_t(mss)}; }
std::vector<uint8_t> opt_wscale(uint8_t shift) { return {3, 3, shift}; }
std::vector<uint8_t> opt_sack_perm() { return {4, 2}; }

std::vector<uint8_t> opt_timestamps(uint32_t tsval, uint32_t tsecr) {
    std::vector<uint8_t> o(10);
    o[0] = 8;
    o[1] = 10;
    put32(o, 2, tsval);
    put32(o, 6, tsecr);
    return o;
}

std::vector<uint8_t> opt_sack(const std::vector<std::pair<uint32_t, uint32_t>>& blocks) {
    std::vector<uint8_t> o(2 + 8 * blocks.size());
    o[0] = 5;
    o[1] = static_cast<uint8_t>(o.size());
    for (size_t i = 0; i < blocks.size(); i++) {
        put32(o, 2 + 8 * i, blocks[i].first);
        put32(o, 6 + 8 * i, blocks[i].second);
    }
    return o;
}

std::vector<uint8_t> opt_nops(size_t n) { return std::vector<uint8_t>(n, 1); }

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> all;
    for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
    return all;
}

uint32_t frame_ack(std::span<const uint8_t> frame) {
    size_t t = kTcpOffset + 8;
    return (uint32_t(frame[t]) << 24) | (uint32_t(frame[t + 1]) << 16) | (uint32_t(frame[t + 2]) << 8) |
           frame[t + 3];
}

std::vector<uint8_t> frame_tcp_options(std::span<const uint8_t> frame) {
    size_t doff = (frame[kTcpOffset + 12] >> 4) * 4;
    return {frame.begin() + kTcpOffset + 20, frame.begin() + kTcpOffset + doff};
}

void set_partial_checksum(std::vector<uint8_t>& frame) {
    size_t ip_len = (frame[14 + 2] << 8) | frame[14 + 3];
    put16(frame, kTcpOffset + 16, fold(pseudo_header_sum(frame, ip_len - 20)));
}

bool checksums_valid(std::span<const uint8_t> frame) {
    if (frame.size() < kTcpOffset + 20) return false;
    if (fold(sum16(frame.subspan(14, 20))) != 0xffff) return false;
    size_t ip_len = (frame[14 + 2] << 8) | frame[14 + 3];
    size_t tcp_len = ip_len - 20;
    if (kTcpOffset + tcp_len > frame.size()) return false;
    uint32_t sum = pseudo_header_sum(frame, tcp_len) + sum16(frame.subspan(kTcpOffset, tcp_len));
    return fold(sum) == 0xffff;
}

}  // namespace tcpfo::test
