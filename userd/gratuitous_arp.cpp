#include "gratuitous_arp.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "unique_fd.h"

namespace tcpfo {
namespace {

// The ARP body for IPv4 over Ethernet (RFC 826), as it goes on the wire.
struct [[gnu::packed]] ArpIpv4 {
    arphdr header;
    std::array<uint8_t, ETH_ALEN> sender_mac;
    uint32_t sender_ip;
    std::array<uint8_t, ETH_ALEN> target_mac;
    uint32_t target_ip;
};
static_assert(sizeof(ArpIpv4) == 28);

constexpr int max_count = 100;

}  // namespace

Result<void> send_gratuitous_arp(const std::string& dev, in_addr_t addr, int count) {
    char addr_text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr, addr_text, sizeof(addr_text));
    const std::string what = fmt::format("can't announce {} on {}", addr_text, dev);
    if (count < 1 || count > max_count) return fail("{}: count {} not in 1..{}", what, count, max_count);
    if (addr == INADDR_ANY) return fail("{}: address is 0.0.0.0", what);
    if (dev.empty() || dev.size() >= IFNAMSIZ) return fail("{}: invalid device name", what);

    // SOCK_DGRAM: the kernel builds the Ethernet header from sll_addr and the
    // interface's own MAC, so only the ARP body is ours to get right.
    UniqueFd fd(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP)));
    if (!fd) return sys_fail(errno, "{}: packet socket", what);

    ifreq ifr{};
    std::memcpy(ifr.ifr_name, dev.c_str(), dev.size());
    if (ioctl(fd.get(), SIOCGIFINDEX, &ifr) < 0) return sys_fail(errno, "{}", what);
    const int ifindex = ifr.ifr_ifindex;
    if (ioctl(fd.get(), SIOCGIFHWADDR, &ifr) < 0) return sys_fail(errno, "{}: hardware address", what);
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) return fail("{}: not an Ethernet device", what);

    ArpIpv4 arp{};
    arp.header.ar_hrd = htons(ARPHRD_ETHER);
    arp.header.ar_pro = htons(ETH_P_IP);
    arp.header.ar_hln = ETH_ALEN;
    arp.header.ar_pln = 4;
    // A request rather than a reply: every ARP implementation processes a broadcast
    // request, while some ignore unsolicited replies.
    arp.header.ar_op = htons(ARPOP_REQUEST);
    std::memcpy(arp.sender_mac.data(), ifr.ifr_hwaddr.sa_data, ETH_ALEN);
    arp.sender_ip = addr;
    arp.target_mac = {};  // unknown, as in any request
    arp.target_ip = addr;

    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_ifindex = ifindex;
    to.sll_halen = ETH_ALEN;
    std::memset(to.sll_addr, 0xff, ETH_ALEN);
    for (int i = 0; i < count; ++i) {
        if (sendto(fd.get(), &arp, sizeof(arp), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof(to)) != static_cast<ssize_t>(sizeof(arp)))
            return sys_fail(errno, "{}: send", what);
    }
    return {};
}

}  // namespace tcpfo
