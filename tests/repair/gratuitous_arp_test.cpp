// The announcement as another host on the link receives it: captured on the far end of
// a veth pair. (That neighbours act on it is shown by the takeover stream test: without
// it the client keeps sending to the dead node's MAC and the stream stalls.)
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include <gtest/gtest.h>

#include "userd/takeover/gratuitous_arp.h"
#include "netns_harness.h"

namespace tcpfo {
namespace {

std::array<uint8_t, ETH_ALEN> mac_of(int any_socket, const char* dev) {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
    std::array<uint8_t, ETH_ALEN> mac{};
    if (ioctl(any_socket, SIOCGIFHWADDR, &ifr) == 0) std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, ETH_ALEN);
    return mac;
}

TEST(GratuitousArp, FramesSeenOnTheLink) {
    const auto ns = test::namespace_name("TCPFO_NS_UNIT");
    ASSERT_FALSE(ns.empty()) << "run through tests/repair/run_repair_tests.sh (namespaces)";
    test::run_in_netns(ns, [] {
        // SOCK_RAW: keep the Ethernet header, to check the broadcast destination too.
        UniqueFd capture(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP)));
        ASSERT_TRUE(capture) << std::strerror(errno);
        sockaddr_ll ll{};
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_ARP);
        ll.sll_ifindex = static_cast<int>(if_nametoindex("u1"));
        ASSERT_EQ(bind(capture.get(), reinterpret_cast<sockaddr*>(&ll), sizeof(ll)), 0);
        const auto sender_mac = mac_of(capture.get(), "u0");

        const in_addr_t vip = test::ipv4("192.0.2.100");
        auto sent = send_gratuitous_arp("u0", vip, 3);
        ASSERT_TRUE(sent) << sent.error().message;

        int seen = 0;
        const uint64_t deadline = test::now_ns() + 2'000'000'000ull;
        while (seen < 3 && test::now_ns() < deadline) {
            pollfd p{capture.get(), POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            uint8_t frame[128];
            const ssize_t n = recv(capture.get(), frame, sizeof(frame), 0);
            ASSERT_GE(n, 14 + 28);
            const uint8_t* arp = frame + 14;
            // Other ARP on the link (none expected here) would not be a gratuitous
            // announcement of the VIP; count only those.
            uint32_t sender_ip, target_ip;
            std::memcpy(&sender_ip, arp + 14, 4);
            std::memcpy(&target_ip, arp + 24, 4);
            if (sender_ip != vip) continue;
            for (int i = 0; i < 6; ++i) EXPECT_EQ(frame[i], 0xff) << "destination not broadcast";
            EXPECT_EQ(std::memcmp(frame + 6, sender_mac.data(), 6), 0) << "source MAC";
            EXPECT_EQ(arp[0] << 8 | arp[1], ARPHRD_ETHER);
            EXPECT_EQ(arp[2] << 8 | arp[3], ETH_P_IP);
            EXPECT_EQ(arp[6] << 8 | arp[7], ARPOP_REQUEST);
            EXPECT_EQ(std::memcmp(arp + 8, sender_mac.data(), 6), 0) << "sender hardware address";
            EXPECT_EQ(target_ip, vip) << "target must equal sender in a gratuitous ARP";
            ++seen;
        }
        EXPECT_EQ(seen, 3);
    });
}

}  // namespace
}  // namespace tcpfo
