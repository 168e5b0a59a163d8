#include "userd/takeover/gratuitous_arp.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

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

std::string address_text(in_addr_t addr) {
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr, text, sizeof(text));
    return text;
}


// What an announcer needs from the interface. `what` starts every error line, so a
// caller can say what it was about to do.
struct PacketLink {
    UniqueFd fd;
    int ifindex = 0;
    std::array<uint8_t, 6> mac{};
};

Result<PacketLink> open_packet_link(const std::string& dev, const std::string& what) {
    if (dev.empty() || dev.size() >= IFNAMSIZ) return fail("{}: invalid device name", what);
    PacketLink link;
    // SOCK_DGRAM: the kernel builds the Ethernet header from sll_addr and the
    // interface's own MAC, so only the ARP body is ours. Protocol 0: the socket only
    // sends, so it must not receive (and queue) every ARP frame on the host.
    link.fd.reset(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!link.fd) return sys_fail(errno, "{}: packet socket", what);
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, dev.c_str(), dev.size());
    if (ioctl(link.fd.get(), SIOCGIFINDEX, &ifr) < 0) return sys_fail(errno, "{}", what);
    link.ifindex = ifr.ifr_ifindex;
    if (ioctl(link.fd.get(), SIOCGIFHWADDR, &ifr) < 0)
        return sys_fail(errno, "{}: hardware address", what);
    if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) return fail("{}: not an Ethernet device", what);
    std::memcpy(link.mac.data(), ifr.ifr_hwaddr.sa_data, link.mac.size());
    return link;
}

}  // namespace

Result<ArpAnnouncer> ArpAnnouncer::open(const std::string& dev) {
    auto link = open_packet_link(dev, fmt::format("can't open ARP announcer on {}", dev));
    if (!link) return std::unexpected(link.error());
    return ArpAnnouncer(std::move(link->fd), dev, link->ifindex, link->mac);
}

Result<void> ArpAnnouncer::announce(in_addr_t addr, int count) const {
    const std::string what = fmt::format("can't announce {} on {}", address_text(addr), dev_);
    if (count < 1 || count > max_count) return fail("{}: count {} not in 1..{}", what, count, max_count);
    if (addr == INADDR_ANY) return fail("{}: address is 0.0.0.0", what);

    ArpIpv4 arp{};
    arp.header.ar_hrd = htons(ARPHRD_ETHER);
    arp.header.ar_pro = htons(ETH_P_IP);
    arp.header.ar_hln = ETH_ALEN;
    arp.header.ar_pln = 4;
    // A request rather than a reply: every ARP implementation processes a broadcast
    // request, while some ignore unsolicited replies.
    arp.header.ar_op = htons(ARPOP_REQUEST);
    arp.sender_mac = mac_;
    arp.sender_ip = addr;
    arp.target_mac = {};  // unknown, as in any request
    arp.target_ip = addr;

    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    std::memset(to.sll_addr, 0xff, ETH_ALEN);
    for (int i = 0; i < count; ++i) {
        if (sendto(fd_.get(), &arp, sizeof(arp), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof(to)) != static_cast<ssize_t>(sizeof(arp)))
            return sys_fail(errno, "{}: send", what);
    }
    return {};
}

Result<void> send_gratuitous_arp(const std::string& dev, in_addr_t addr, int count) {
    auto link = open_packet_link(dev, fmt::format("can't announce {} on {}", address_text(addr), dev));
    if (!link) return std::unexpected(link.error());
    return ArpAnnouncer(std::move(link->fd), dev, link->ifindex, link->mac).announce(addr, count);
}

}  // namespace tcpfo
