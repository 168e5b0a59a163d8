// tcpfo-vm-bad-segments: sends malformed and truncated IPv4/TCP segments to ADDR:PORT
// through a raw socket (IP_HDRINCL), to show that the kernel hooks (tcpfo.ko's
// parser, the BPF programs') survive what a hostile or broken client can put on the
// wire. Every variant goes out `--rounds` times, each round with fresh random bytes
// where a variant has them; half are aimed at a live connection (--sport, its
// client port) so that they reach the per-connection paths, not just the parser:
// segments the server's TCP drops (bad checksum, RSTs and ACKs it refuses), which
// must not reach the backups' logs either.
//
//   tcpfo-vm-bad-segments --to ADDR --port P [--sport N] [--rounds N] [--seed N]
//
// Prints "sent N segments (K variants)"; exits 1 if the raw socket can't be had.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"
#include "tool_args.h"

namespace tcpfo::vmtools {
namespace {

using Bytes = std::vector<uint8_t>;

uint16_t ones_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

// One segment: IPv4 header + TCP header with `doff` + options + payload. `doff` and
// the options may lie on purpose (the IP total length can't: the kernel fills it in
// for a raw socket, and a receiver drops a wrong one before any hook); the TCP
// checksum is right unless the variant breaks it, so the segment gets as far as a
// valid one would.
struct Segment {
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0;
    uint32_t seq = 0, ack = 0;
    uint8_t flags = 0x10;  // ACK
    uint8_t doff = 5;
    Bytes options;
    Bytes payload;
    uint16_t frag_off = 0;       // host order, IP_MF | offset
    bool bad_tcp_checksum = false;

    Bytes build() const {
        const size_t tcp_len = 20 + options.size() + payload.size();
        Bytes b(20 + tcp_len);
        auto* ip = reinterpret_cast<iphdr*>(b.data());
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_TCP;
        ip->tot_len = htons(uint16_t(b.size()));  // the kernel sets it anyway (raw(7))
        ip->frag_off = htons(frag_off);
        ip->saddr = src;
        ip->daddr = dst;
        ip->check = 0;  // the kernel fills it with IP_HDRINCL
        auto* th = reinterpret_cast<tcphdr*>(b.data() + 20);
        th->source = htons(sport);
        th->dest = htons(dport);
        th->seq = htonl(seq);
        th->ack_seq = htonl(ack);
        th->doff = doff;
        b[20 + 13] = flags;
        th->window = htons(65535);
        std::memcpy(b.data() + 40, options.data(), options.size());
        std::memcpy(b.data() + 40 + options.size(), payload.data(), payload.size());
        // Pseudo-header + segment.
        uint8_t pseudo[12];
        std::memcpy(pseudo, &src, 4);
        std::memcpy(pseudo + 4, &dst, 4);
        pseudo[8] = 0;
        pseudo[9] = IPPROTO_TCP;
        pseudo[10] = uint8_t(tcp_len >> 8);
        pseudo[11] = uint8_t(tcp_len);
        const uint16_t sum = ones_sum(b.data() + 20, tcp_len, ones_sum(pseudo, sizeof(pseudo)));
        const uint16_t check = uint16_t(~sum) ^ (bad_tcp_checksum ? 0x5555 : 0);
        b[20 + 16] = uint8_t(check >> 8);
        b[20 + 17] = uint8_t(check);
        return b;
    }
};

struct Variant {
    const char* name;
    std::function<void(Segment&, std::mt19937&)> shape;
};

Bytes random_bytes(std::mt19937& rng, size_t n) {
    Bytes b(n);
    for (auto& x : b) x = uint8_t(rng());
    return b;
}

std::vector<Variant> variants() {
    return {
        {"doff below 5", [](Segment& s, std::mt19937&) { s.doff = 2; }},
        {"doff past the end", [](Segment& s, std::mt19937&) { s.doff = 15; }},
        {"options of random bytes", [](Segment& s, std::mt19937& r) {
             s.options = random_bytes(r, 4 * (1 + r() % 10));
             s.doff = uint8_t(5 + s.options.size() / 4);
         }},
        {"option length 0", [](Segment& s, std::mt19937&) { s.options = {8, 0, 1, 1}; s.doff = 6; }},
        {"option length 1", [](Segment& s, std::mt19937&) { s.options = {5, 1, 1, 1}; s.doff = 6; }},
        {"option running past the header", [](Segment& s, std::mt19937&) { s.options = {5, 40, 0, 0}; s.doff = 6; }},
        {"SACK of odd length", [](Segment& s, std::mt19937& r) {
             s.options = {1, 1, 5, 13};
             auto more = random_bytes(r, 12);
             s.options.insert(s.options.end(), more.begin(), more.end());
             s.options.resize(20, 1);
             s.doff = 10;
         }},
        {"SACK of five blocks", [](Segment& s, std::mt19937& r) {
             s.options = {5, 38};
             auto blocks = random_bytes(r, 36);
             s.options.insert(s.options.end(), blocks.begin(), blocks.end());
             s.options.resize(40, 0);
             s.doff = 15;
         }},
        {"timestamp option truncated", [](Segment& s, std::mt19937&) { s.options = {8, 10, 0, 0}; s.doff = 6; }},
        {"payload with random flags", [](Segment& s, std::mt19937& r) {
             s.flags = uint8_t(r());
             s.payload = random_bytes(r, r() % 1400);
         }},
        {"first fragment", [](Segment& s, std::mt19937& r) {
             s.frag_off = 0x2000;
             s.payload = random_bytes(r, 64);
         }},
        {"later fragment", [](Segment& s, std::mt19937& r) {
             s.frag_off = 0x0010;
             s.payload = random_bytes(r, 64);
         }},
        {"bad TCP checksum", [](Segment& s, std::mt19937& r) {
             s.payload = random_bytes(r, 200);
             s.bad_tcp_checksum = true;
         }},
        {"SYN with garbage options", [](Segment& s, std::mt19937& r) {
             s.flags = 0x02;
             s.options = random_bytes(r, 20);
             s.doff = 10;
         }},
        {"RST without ACK", [](Segment& s, std::mt19937&) { s.flags = 0x04; }},
        {"FIN with payload", [](Segment& s, std::mt19937& r) {
             s.flags = 0x11;
             s.payload = random_bytes(r, 300);
         }},
    };
}

Result<int> run(int argc, char** argv) {
    auto args = ToolArgs::parse(argc, argv, 1, {"to", "port", "sport", "rounds", "seed"});
    if (!args) return std::unexpected(args.error());
    auto to = args->text("to");
    auto port = args->number("port");
    auto sport = args->number_or("sport", 0);
    auto rounds = args->number_or("rounds", 20);
    auto seed = args->number_or("seed", 1);
    if (!to || !port || !sport || !rounds || !seed)
        return fail("usage: tcpfo-vm-bad-segments --to ADDR --port P [--sport N] [--rounds N] [--seed N]");
    in_addr dst{};
    if (inet_pton(AF_INET, to->c_str(), &dst) != 1) return fail("--to: '{}' is not an IPv4 address", *to);

    UniqueFd fd(socket(AF_INET, SOCK_RAW, IPPROTO_RAW));
    if (!fd) return sys_fail(errno, "raw socket");
    // The source address: what the kernel would use toward ADDR.
    UniqueFd probe(socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in dst_sa{};
    dst_sa.sin_family = AF_INET;
    dst_sa.sin_addr = dst;
    dst_sa.sin_port = htons(uint16_t(*port));
    if (!probe || connect(probe.get(), reinterpret_cast<sockaddr*>(&dst_sa), sizeof(dst_sa)) < 0)
        return sys_fail(errno, "no route to {}", *to);
    sockaddr_in src_sa{};
    socklen_t len = sizeof(src_sa);
    getsockname(probe.get(), reinterpret_cast<sockaddr*>(&src_sa), &len);

    std::mt19937 rng{static_cast<std::mt19937::result_type>(*seed)};
    const auto all = variants();
    uint64_t sent = 0;
    for (uint64_t round = 0; round < *rounds; ++round) {
        for (const auto& v : all) {
            Segment s;
            s.src = src_sa.sin_addr.s_addr;
            s.dst = dst.s_addr;
            // Half aimed at the live connection, half at random ports.
            s.sport = (*sport && (round & 1) == 0) ? uint16_t(*sport) : uint16_t(1024 + rng() % 60000);
            s.dport = uint16_t(*port);
            s.seq = rng();
            s.ack = rng();
            v.shape(s, rng);
            // Payload aimed at the live connection always has a bad checksum: with a
            // good one and a random sequence number that happens to fall inside the
            // window, the server's TCP itself would take it (a blind injection TCP
            // can't tell from the client's bytes), and the test would fail by chance.
            if (s.sport == *sport && !s.payload.empty()) s.bad_tcp_checksum = true;
            const Bytes b = s.build();
            if (sendto(fd.get(), b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&dst_sa), sizeof(dst_sa)) >= 0)
                ++sent;
        }
    }
    fmt::print("sent {} segments ({} variants)\n", sent, all.size());
    return 0;
}

}  // namespace
}  // namespace tcpfo::vmtools

int main(int argc, char** argv) {
    auto r = tcpfo::vmtools::run(argc, argv);
    if (!r) {
        fmt::print(stderr, "tcpfo-vm-bad-segments: {}\n", r.error().message);
        return 1;
    }
    return *r;
}
