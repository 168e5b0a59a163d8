#include "userd/hooks/nudge_sender.h"

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>

#include <vector>

#include <gtest/gtest.h>

#include "ones_sum.h"

using namespace tcpfo;
using tcpfo::test::ones_sum;

namespace {

struct Built {
    std::vector<uint8_t> packet;
    const iphdr* ip() const { return reinterpret_cast<const iphdr*>(packet.data()); }
    const tcphdr* tcp() const { return reinterpret_cast<const tcphdr*>(packet.data() + 20); }
};

Built build(uint8_t client_present, uint8_t server_present) {
    tcpfo_conn_key key{inet_addr("192.0.2.1"), inet_addr("192.0.2.100"), htons(40000), htons(7000)};
    tcpfo_conn_state state{};
    state.client_opts.present = client_present;
    state.server_opts.present = server_present;
    state.snd_nxt = 0xfffffffe;
    state.last_window = 0x1234;
    state.last_tsval = 111;
    state.last_tsecr = 222;
    Built b;
    b.packet.resize(kMaxServerSegmentBytes);
    b.packet.resize(build_nudge_packet(key, state, 0x00000010, b.packet.data()));
    return b;
}

}  // namespace

TEST(NudgePacket, IsAValidAckFromTheVipWithTimestamps) {
    const Built b = build(TCPFO_OPT_TIMESTAMPS, TCPFO_OPT_TIMESTAMPS);
    ASSERT_EQ(b.packet.size(), 52u);
    EXPECT_EQ(ones_sum(std::vector<uint8_t>(b.packet.begin(), b.packet.begin() + 20)), 0xffff);
    EXPECT_EQ(b.ip()->saddr, inet_addr("192.0.2.100"));
    EXPECT_EQ(b.ip()->daddr, inet_addr("192.0.2.1"));
    EXPECT_EQ(ntohs(b.tcp()->source), 7000);
    EXPECT_EQ(ntohs(b.tcp()->dest), 40000);
    EXPECT_EQ(ntohl(b.tcp()->seq), 0xfffffffeu);
    EXPECT_EQ(ntohl(b.tcp()->ack_seq), 0x10u);
    EXPECT_TRUE(b.tcp()->ack);
    EXPECT_FALSE(b.tcp()->syn || b.tcp()->fin || b.tcp()->rst || b.tcp()->psh);
    EXPECT_EQ(ntohs(b.tcp()->window), 0x1234);
    EXPECT_EQ(b.packet[42], 8);  // timestamp option after two NOPs
    EXPECT_EQ(b.packet[43], 10);
    EXPECT_EQ(ntohl(*reinterpret_cast<const uint32_t*>(&b.packet[44])), 111u);
    EXPECT_EQ(ntohl(*reinterpret_cast<const uint32_t*>(&b.packet[48])), 222u);
    // TCP checksum over the pseudo-header (VIP, client, proto, length) and segment.
    std::vector<uint8_t> pseudo(b.packet.begin() + 12, b.packet.begin() + 20);
    pseudo.insert(pseudo.end(), {0, IPPROTO_TCP, 0, 32});
    pseudo.insert(pseudo.end(), b.packet.begin() + 20, b.packet.end());
    EXPECT_EQ(ones_sum(pseudo), 0xffff);
}

TEST(NudgePacket, CarriesNoTimestampsUnlessBothSidesUseThem) {
    const Built b = build(TCPFO_OPT_TIMESTAMPS, 0);
    ASSERT_EQ(b.packet.size(), 40u);
    EXPECT_EQ(b.tcp()->doff, 5);
    std::vector<uint8_t> pseudo(b.packet.begin() + 12, b.packet.begin() + 20);
    pseudo.insert(pseudo.end(), {0, IPPROTO_TCP, 0, 20});
    pseudo.insert(pseudo.end(), b.packet.begin() + 20, b.packet.end());
    EXPECT_EQ(ones_sum(pseudo), 0xffff);
}

TEST(ResetPacket, IsABareRstAtTheGivenSequenceWithValidChecksums) {
    const tcpfo_conn_key key{inet_addr("192.0.2.1"), inet_addr("192.0.2.100"), htons(40000), htons(7000)};
    Built b;
    b.packet.resize(kMaxServerSegmentBytes);
    b.packet.resize(build_reset_packet(key, 0xdeadbeef, b.packet.data()));
    ASSERT_EQ(b.packet.size(), 40u);
    EXPECT_EQ(ones_sum(std::vector<uint8_t>(b.packet.begin(), b.packet.begin() + 20)), 0xffff);
    EXPECT_EQ(ntohl(b.tcp()->seq), 0xdeadbeefu);
    EXPECT_TRUE(b.tcp()->rst);
    EXPECT_FALSE(b.tcp()->ack || b.tcp()->syn || b.tcp()->fin);
    EXPECT_EQ(b.tcp()->ack_seq, 0u);
    // TCP checksum over the pseudo-header (VIP -> client) and the segment.
    std::vector<uint8_t> pseudo(b.packet.begin() + 12, b.packet.begin() + 20);
    pseudo.insert(pseudo.end(), {0, IPPROTO_TCP, 0, 20});
    pseudo.insert(pseudo.end(), b.packet.begin() + 20, b.packet.end());
    EXPECT_EQ(ones_sum(pseudo), 0xffff);
}
