// Announcing that an IPv4 address moved to this node: gratuitous ARP on one interface.
#pragma once

#include <netinet/in.h>

#include <array>
#include <string>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"

namespace tcpfo {

// A packet socket on one interface, opened ahead of a takeover. Closing a packet socket
// waits for an RCU grace period in the kernel (measured here: about 15 ms), so the
// takeover path announces through an open one and never pays that.
class ArpAnnouncer {
 public:
    // The interface must be Ethernet; it need not be up yet (announce() needs that).
    // Opened in the calling thread's network namespace.
    static Result<ArpAnnouncer> open(const std::string& dev);

    // Broadcasts `count` ARP requests with sender = target = addr and this interface's
    // MAC as sender hardware address (an RFC 5227 announcement), back to back.
    // Neighbours that cache addr replace the old MAC at once (Linux overrides its lock
    // time for a gratuitous ARP), so the clients' next segments come here. It does not
    // wait between copies: takeover must not block on it; a caller wanting spaced
    // repeats calls again from its own timer.
    Result<void> announce(in_addr_t addr, int count = 3) const;

    const std::string& device() const { return dev_; }

 private:
    friend Result<void> send_gratuitous_arp(const std::string&, in_addr_t, int);
    ArpAnnouncer(UniqueFd fd, std::string dev, int ifindex, std::array<uint8_t, 6> mac)
        : fd_(std::move(fd)), dev_(std::move(dev)), ifindex_(ifindex), mac_(mac) {}
    UniqueFd fd_;
    std::string dev_;
    int ifindex_ = 0;
    std::array<uint8_t, 6> mac_{};
};

// open() + announce() in one call, for tools and tests. Returns only after the socket
// is closed, one RCU grace period after the frames left: not for the takeover path.
Result<void> send_gratuitous_arp(const std::string& dev, in_addr_t addr, int count = 3);

}  // namespace tcpfo
