// The takeover's raw segments: the out-of-window probe, the resend prompt and the
// duplicate ACKs (userd/server_segment.h, client_probe.h, resend_prompt.h).
#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include <vector>

#include <gtest/gtest.h>

#include "userd/takeover/client_probe.h"
#include "userd/takeover/resend_prompt.h"
#include "userd/hooks/server_segment.h"
#include "ones_sum.h"

using namespace tcpfo;
using tcpfo::test::ones_sum;

namespace {

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
    return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

struct Packet {
    std::vector<uint8_t> bytes;
    const iphdr* ip() const { return reinterpret_cast<const iphdr*>(bytes.data()); }
    const tcphdr* tcp() const { return reinterpret_cast<const tcphdr*>(bytes.data() + 20); }
    std::vector<uint8_t> options() const {
        return {bytes.begin() + 40, bytes.begin() + 20 + tcp()->doff * 4};
    }
    size_t payload_len() const { return bytes.size() - 20 - tcp()->doff * 4; }
    bool checksums_valid() const {
        if (ones_sum({bytes.begin(), bytes.begin() + 20}) != 0xffff) return false;
        if (ntohs(ip()->tot_len) != bytes.size()) return false;
        const size_t tcp_len = bytes.size() - 20;
        std::vector<uint8_t> pseudo(bytes.begin() + 12, bytes.begin() + 20);
        pseudo.insert(pseudo.end(), {0, IPPROTO_TCP, uint8_t(tcp_len >> 8), uint8_t(tcp_len)});
        pseudo.insert(pseudo.end(), bytes.begin() + 20, bytes.end());
        return ones_sum(pseudo) == 0xffff;
    }
};

template <class Build>
Packet built(Build build) {
    Packet p;
    p.bytes.resize(kMaxServerSegmentBytes);
    p.bytes.resize(build(p.bytes.data()));
    return p;
}

const tcpfo_conn_key kKey{inet_addr("192.0.2.1"), inet_addr("192.0.2.100"), htons(40000), htons(7000)};

void expect_from_vip_to_client(const Packet& p) {
    EXPECT_EQ(p.ip()->version, 4);
    EXPECT_EQ(p.ip()->protocol, IPPROTO_TCP);
    EXPECT_EQ(p.ip()->saddr, inet_addr("192.0.2.100"));
    EXPECT_EQ(p.ip()->daddr, inet_addr("192.0.2.1"));
    EXPECT_EQ(ntohs(p.tcp()->source), 7000);
    EXPECT_EQ(ntohs(p.tcp()->dest), 40000);
    EXPECT_TRUE(p.tcp()->ack);
    EXPECT_FALSE(p.tcp()->syn || p.tcp()->fin || p.tcp()->rst || p.tcp()->psh || p.tcp()->urg);
    EXPECT_TRUE(p.checksums_valid());
}

}  // namespace

TEST(ServerSegment, LaysOutTimestampsThenSackAsLinuxDoes) {
    ServerSegment s;
    s.key = kKey;
    s.seq = 0x01020304;
    s.ack = 0xa0b0c0d0;
    s.window = 0x1234;
    s.timestamps = TcpTimestamps{111, 222};
    s.sack = {{10, 20}, {30, 40}, {50, 60}};
    Packet p = built([&](uint8_t* out) { return build_server_segment(s, out); });
    ASSERT_EQ(p.bytes.size(), 20u + 20 + 40);
    expect_from_vip_to_client(p);
    EXPECT_EQ(ntohl(p.tcp()->seq), 0x01020304u);
    EXPECT_EQ(ntohl(p.tcp()->ack_seq), 0xa0b0c0d0u);
    EXPECT_EQ(ntohs(p.tcp()->window), 0x1234);
    const auto o = p.options();
    ASSERT_EQ(o.size(), 40u);
    EXPECT_EQ(std::vector<uint8_t>(o.begin(), o.begin() + 4), (std::vector<uint8_t>{1, 1, 8, 10}));
    EXPECT_EQ(be32(o, 4), 111u);
    EXPECT_EQ(be32(o, 8), 222u);
    EXPECT_EQ(std::vector<uint8_t>(o.begin() + 12, o.begin() + 16), (std::vector<uint8_t>{1, 1, 5, 26}));
    for (uint32_t i = 0; i < 3; i++) {
        EXPECT_EQ(be32(o, 16 + 8 * i), 10 + 20 * i);
        EXPECT_EQ(be32(o, 20 + 8 * i), 20 + 20 * i);
    }
}

TEST(ServerSegment, RefusesOptionsThatDoNotFit) {
    ServerSegment s;
    s.key = kKey;
    s.timestamps = TcpTimestamps{1, 2};
    s.sack = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    uint8_t out[kMaxServerSegmentBytes];
    EXPECT_EQ(build_server_segment(s, out), 0u) << "4 SACK blocks and timestamps need 48 option bytes";
    s.timestamps.reset();
    Packet p = built([&](uint8_t* o) { return build_server_segment(s, o); });
    EXPECT_EQ(p.bytes.size(), 20u + 20 + 36);
    EXPECT_TRUE(p.checksums_valid());
    EXPECT_EQ(p.options()[3], 34);
}

TEST(ClientProbe, PureAckJustBelowWhatTheClientAcknowledged) {
    ProbeSpec probe;
    probe.client_acked = 0x00000000;  // the wrap: the probe's sequence is 0xffffffff
    probe.ack = 5000;
    probe.window = 502;
    probe.timestamps = TcpTimestamps{0x7fff0000, 42};
    Packet p = built([&](uint8_t* out) { return build_probe_packet(kKey, probe, out); });
    ASSERT_EQ(p.bytes.size(), 52u);
    expect_from_vip_to_client(p);
    EXPECT_EQ(ntohl(p.tcp()->seq), 0xffffffffu);
    EXPECT_EQ(ntohl(p.tcp()->ack_seq), 5000u);
    EXPECT_EQ(p.payload_len(), 0u);
    const auto o = p.options();
    EXPECT_EQ(be32(o, 4), 0x7fff0000u);
    EXPECT_EQ(be32(o, 8), 42u);
}

TEST(ClientProbe, WithOneOldByteItEndsBeforeWhatTheClientAcknowledged) {
    ProbeSpec probe;
    probe.client_acked = 1000;
    probe.with_byte = true;
    Packet p = built([&](uint8_t* out) { return build_probe_packet(kKey, probe, out); });
    ASSERT_EQ(p.bytes.size(), 41u);
    expect_from_vip_to_client(p);
    EXPECT_EQ(ntohl(p.tcp()->seq), 998u);  // [998, 999): wholly before 1000
    EXPECT_EQ(p.payload_len(), 1u);
    EXPECT_EQ(p.tcp()->doff, 5) << "no timestamps unless given";
}

TEST(ClientProbe, PositionNeedsAPureAck) {
    tcpfo_held_client r{};
    EXPECT_FALSE(client_position(r));
    r.flags = TCPFO_HELD_SEQ | TCPFO_HELD_ACK;
    r.snd_nxt = 7000;
    r.ack = 9000;
    r.segments = 3;
    EXPECT_FALSE(client_position(r)) << "retransmissions alone may end below snd_nxt";
    tcpfo_held_client before = r;
    r.pure_acks = 1;
    r.segments = 4;
    r.window = 77;
    EXPECT_TRUE(probe_answered(before, r));
    EXPECT_FALSE(probe_answered(r, r));
    auto p = client_position(r);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->snd_nxt, 7000u);
    EXPECT_EQ(p->rcv_nxt, 9000u);
    EXPECT_EQ(p->window, 77);
    EXPECT_FALSE(p->timestamps);
    EXPECT_FALSE(p->sack_seen);
    r.flags |= TCPFO_HELD_TS | TCPFO_HELD_SACK;
    r.tsval = 5;
    r.tsecr = 6;
    p = client_position(r);
    ASSERT_TRUE(p && p->timestamps);
    EXPECT_EQ(p->timestamps->tsval, 5u);
    EXPECT_EQ(p->timestamps->tsecr, 6u);
    EXPECT_TRUE(p->sack_seen);
}

TEST(ResendPrompt, BlockCoversTheLastSegmentAndStartsAfterWhatIsHeld) {
    // 10 segments of 1448 missing: the last one.
    EXPECT_EQ(resend_prompt_block(1000, 1000 + 14480, 1448), (SackBlock{1000 + 13032, 1000 + 14480}));
    // 2 segments: the second.
    EXPECT_EQ(resend_prompt_block(1000, 1000 + 2896, 1448), (SackBlock{1000 + 1448, 1000 + 2896}));
    // One segment: the block cannot start at L, so it covers the segment only in part.
    EXPECT_EQ(resend_prompt_block(1000, 1000 + 1448, 1448), (SackBlock{1001, 1000 + 1448}));
    EXPECT_EQ(resend_prompt_block(1000, 1000 + 500, 1448), (SackBlock{1001, 1500}));
    // Nothing, or a single byte, missing: no block can lie after L.
    EXPECT_FALSE(resend_prompt_block(1000, 1000, 1448));
    EXPECT_FALSE(resend_prompt_block(1000, 1001, 1448));
    EXPECT_FALSE(resend_prompt_block(1000, 900, 1448));
    // Across the wrap.
    EXPECT_EQ(resend_prompt_block(0xfffff000, 0x00000400, 1448), (SackBlock{0x00000400u - 1448u, 0x00000400}));
    EXPECT_EQ(resend_prompt_block(0xffffff00, 0x00000400, 1448), (SackBlock{0xffffff01, 0x00000400}));
}

TEST(ResendPrompt, PromptAcksWhatIsHeldAndSacksTheClientsLastSegment) {
    ResendContext c;
    c.key = kKey;
    c.seq = 0x55555555;
    c.held_end = 20000;
    c.client_snd_nxt = 20000 + 4 * 1448;
    c.client_mss = 1448;
    c.window = 1024;
    c.timestamps = TcpTimestamps{900, 800};
    Packet p = built([&](uint8_t* out) { return build_resend_prompt(c, out); });
    ASSERT_EQ(p.bytes.size(), 20u + 20 + 12 + 12);
    expect_from_vip_to_client(p);
    EXPECT_EQ(ntohl(p.tcp()->seq), 0x55555555u);
    EXPECT_EQ(ntohl(p.tcp()->ack_seq), 20000u);
    EXPECT_EQ(ntohs(p.tcp()->window), 1024);
    const auto o = p.options();
    EXPECT_EQ(be32(o, 4), 900u);
    EXPECT_EQ(be32(o, 8), 800u);
    EXPECT_EQ(std::vector<uint8_t>(o.begin() + 12, o.begin() + 16), (std::vector<uint8_t>{1, 1, 5, 10}));
    EXPECT_EQ(be32(o, 16), 20000u + 3 * 1448);
    EXPECT_EQ(be32(o, 20), 20000u + 4 * 1448);
    EXPECT_EQ(choose_resend_method(c, true), ResendMethod::sack_prompt);

    // Without SACK: the same ACK without options beyond the timestamps, sent 4 times.
    Packet d = built([&](uint8_t* out) { return build_resend_dupack(c, out); });
    ASSERT_EQ(d.bytes.size(), 52u);
    expect_from_vip_to_client(d);
    EXPECT_EQ(ntohl(d.tcp()->ack_seq), 20000u);
    EXPECT_EQ(d.payload_len(), 0u);
    EXPECT_EQ(choose_resend_method(c, false), ResendMethod::dupacks);
    EXPECT_EQ(kResendDupacks, 4);

    // Nothing missing: nothing to send.
    c.client_snd_nxt = c.held_end;
    uint8_t out[kMaxServerSegmentBytes];
    EXPECT_EQ(build_resend_prompt(c, out), 0u);
    EXPECT_EQ(build_resend_dupack(c, out), 0u);
    EXPECT_EQ(choose_resend_method(c, true), ResendMethod::none);
    EXPECT_EQ(choose_resend_method(c, false), ResendMethod::none);
    c.client_snd_nxt = c.held_end + 1;
    EXPECT_EQ(choose_resend_method(c, true), ResendMethod::none) << "one byte: no valid block";
    EXPECT_EQ(choose_resend_method(c, false), ResendMethod::dupacks);
}

TEST(ResendPrompt, HeldAckTellsAClientWithNothingToResendWhatIsHeld) {
    ResendContext c;
    c.key = kKey;
    c.seq = 0x55555555;
    c.held_end = 20000;
    c.client_snd_nxt = 20000;  // nothing missing: no prompt, but the client must hear L
    c.client_mss = 1448;
    c.window = 1024;
    c.timestamps = TcpTimestamps{900, 800};
    ASSERT_EQ(choose_resend_method(c, true), ResendMethod::none);
    Packet a = built([&](uint8_t* out) { return build_held_ack(c, out); });
    ASSERT_EQ(a.bytes.size(), 20u + 20 + 12);
    expect_from_vip_to_client(a);
    // In the client's window (its rcv_nxt), acknowledging L: the client takes the ACK.
    EXPECT_EQ(ntohl(a.tcp()->seq), 0x55555555u);
    EXPECT_EQ(ntohl(a.tcp()->ack_seq), 20000u);
    EXPECT_TRUE(a.tcp()->ack);
    EXPECT_FALSE(a.tcp()->syn || a.tcp()->fin || a.tcp()->rst);
    EXPECT_EQ(ntohs(a.tcp()->window), 1024);
    EXPECT_EQ(a.payload_len(), 0u);
    const auto o = a.options();
    EXPECT_EQ(be32(o, 4), 900u);
    EXPECT_EQ(be32(o, 8), 800u);
}

TEST(ResendPrompt, PmtuPromptQuotesTheClientsSegment) {
    Packet p = built([&](uint8_t* out) { return build_pmtu_prompt(kKey, 0xdeadbeef, 1499, out); });
    ASSERT_EQ(p.bytes.size(), kPmtuPromptBytes);
    EXPECT_EQ(ones_sum({p.bytes.begin(), p.bytes.begin() + 20}), 0xffff) << "IP header checksum";
    EXPECT_EQ(p.ip()->protocol, IPPROTO_ICMP);
    EXPECT_EQ(p.ip()->saddr, inet_addr("192.0.2.100"));
    EXPECT_EQ(p.ip()->daddr, inet_addr("192.0.2.1"));
    EXPECT_EQ(ntohs(p.ip()->tot_len), kPmtuPromptBytes);
    EXPECT_EQ(ones_sum({p.bytes.begin() + 20, p.bytes.end()}), 0xffff) << "ICMP checksum";
    EXPECT_EQ(p.bytes[20], 3) << "destination unreachable";
    EXPECT_EQ(p.bytes[21], 4) << "fragmentation needed";
    EXPECT_EQ(p.bytes[26] << 8 | p.bytes[27], 1499);
    // The quoted client segment: IPv4 client -> VIP, DF, TCP, then ports and sequence.
    EXPECT_EQ(ones_sum({p.bytes.begin() + 28, p.bytes.begin() + 48}), 0xffff);
    EXPECT_EQ(p.bytes[28], 0x45);
    EXPECT_EQ(p.bytes[28 + 9], IPPROTO_TCP);
    EXPECT_EQ(p.bytes[28 + 6] & 0x40, 0x40);
    EXPECT_EQ(be32(p.bytes, 28 + 12), ntohl(inet_addr("192.0.2.1")));
    EXPECT_EQ(be32(p.bytes, 28 + 16), ntohl(inet_addr("192.0.2.100")));
    EXPECT_EQ(p.bytes[48] << 8 | p.bytes[49], 40000);
    EXPECT_EQ(p.bytes[50] << 8 | p.bytes[51], 7000);
    EXPECT_EQ(be32(p.bytes, 52), 0xdeadbeefu);
    EXPECT_EQ(pmtu_prompt_mtu(1448, true), 1499);
    EXPECT_EQ(pmtu_prompt_mtu(1460, false), 1499);
}
