#include "netns_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <fmt/core.h>

namespace tcpfo::test {

std::string namespace_name(const char* role) {
    const char* value = std::getenv(role);
    return value ? value : "";
}

void run_in_netns(const std::string& ns, const std::function<void()>& fn) {
    std::string error;
    std::thread worker([&] {
        UniqueFd handle(open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
        if (!handle || setns(handle.get(), CLONE_NEWNET) < 0) {
            error = fmt::format("can't enter namespace {}: {}", ns, std::strerror(errno));
            return;
        }
        fn();
    });
    worker.join();
    // Test code, not project code: a harness that cannot enter its namespace must stop
    // the test binary rather than run the test in the wrong namespace.
    if (!error.empty()) {
        std::fprintf(stderr, "%s\n", error.c_str());
        std::abort();
    }
}

std::string set_link_up(const std::string& dev, bool up) {
    UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd.get(), SIOCGIFFLAGS, &ifr) < 0)
        return fmt::format("SIOCGIFFLAGS {}: {}", dev, std::strerror(errno));
    if (up)
        ifr.ifr_flags |= IFF_UP;
    else
        ifr.ifr_flags &= ~IFF_UP;
    if (ioctl(fd.get(), SIOCSIFFLAGS, &ifr) < 0)
        return fmt::format("SIOCSIFFLAGS {}: {}", dev, std::strerror(errno));
    return "";
}

in_addr_t ipv4(const char* text) {
    in_addr addr{};
    inet_pton(AF_INET, text, &addr);
    return addr.s_addr;
}

sockaddr_in socket_address(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = ipv4(ip);
    return a;
}

uint64_t now_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return uint64_t(t.tv_sec) * 1'000'000'000u + uint64_t(t.tv_nsec);
}

uint8_t pattern_byte(uint64_t offset, uint8_t salt) {
    uint64_t x = (offset >> 3) * 0x9E3779B97F4A7C15ull + salt;
    x ^= x >> 29;
    return static_cast<uint8_t>(x >> (8 * (offset & 7)));
}

void fill_pattern(uint8_t* buf, size_t len, uint64_t offset, uint8_t salt) {
    for (size_t i = 0; i < len; ++i) buf[i] = pattern_byte(offset + i, salt);
}

size_t check_pattern(const uint8_t* buf, size_t len, uint64_t offset, uint8_t salt) {
    for (size_t i = 0; i < len; ++i)
        if (buf[i] != pattern_byte(offset + i, salt)) return i;
    return len;
}

std::string TcpFlagWatch::start(TcpFlagWatch& watch, const std::string& dev, uint16_t port) {
    // SOCK_DGRAM on ETH_P_IP: frames arrive without the Ethernet header, in order, both
    // the ones this interface sends and the ones it receives.
    watch.fd_.reset(socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP)));
    if (!watch.fd_) return fmt::format("packet socket: {}", std::strerror(errno));
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_IP);
    ll.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    if (ll.sll_ifindex == 0 ||
        bind(watch.fd_.get(), reinterpret_cast<sockaddr*>(&ll), sizeof(ll)) < 0)
        return fmt::format("bind packet socket to {}: {}", dev, std::strerror(errno));
    watch.port_ = port;
    watch.thread_ = std::thread([&watch] { watch.run(); });
    return "";
}

void TcpFlagWatch::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void TcpFlagWatch::run() {
    uint8_t frame[2048];
    while (!stop_) {
        pollfd p{fd_.get(), POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) continue;
        const ssize_t n = recv(fd_.get(), frame, sizeof(frame), MSG_DONTWAIT);
        if (n < static_cast<ssize_t>(sizeof(iphdr))) continue;
        const auto* ip = reinterpret_cast<const iphdr*>(frame);
        const size_t ihl = ip->ihl * 4u;
        if (ip->protocol == IPPROTO_TCP && n >= static_cast<ssize_t>(ihl + sizeof(tcphdr))) {
            const auto* tcp = reinterpret_cast<const tcphdr*>(frame + ihl);
            if (ntohs(tcp->source) != port_ && ntohs(tcp->dest) != port_) continue;
            ++segments_;
            if (tcp->rst) ++resets_;
            if (tcp->fin) ++fins_;
        } else if (ip->protocol == IPPROTO_UDP && n >= static_cast<ssize_t>(ihl + sizeof(udphdr))) {
            const auto* udp = reinterpret_cast<const udphdr*>(frame + ihl);
            if (marker_port_ != 0 && ntohs(udp->dest) == marker_port_) ++markers_;
        }
    }
}

}  // namespace tcpfo::test
