// The service address (VIP) on one of this node's interfaces, added and removed through
// rtnetlink (libmnl).
#pragma once

#include <netinet/in.h>

#include <memory>
#include <string>

#include "userd/base/error.h"

struct mnl_socket;

namespace tcpfo {

class VipAddress {
 public:
    // Adds addr/prefix to dev (RTM_NEWADDR). Fails if the address is already there:
    // a node that finds the VIP already present does not own it and must not act as if
    // it had claimed it. The netlink socket is opened in the calling thread's network
    // namespace and kept, so release() acts there whichever thread calls it.
    static Result<VipAddress> claim(const std::string& dev, in_addr_t addr, int prefix);

    // Removes the address (RTM_DELADDR). Idempotent: an address or device that is
    // already gone counts as released. Nothing is released on destruction: giving up
    // the VIP is a decision (fencing, a graceful handover), not a side effect of an
    // object going out of scope. If the VIP is the first (primary) address of its
    // subnet on dev, the kernel also removes that subnet's secondary addresses unless
    // net.ipv4.conf.<dev>.promote_secondaries is set: give the node its own address
    // first.
    Result<void> release();

    // A node that starts as a backup must not hold the VIP (one speaker): removes it
    // from dev if it is there (left by a failoverd that was killed), and says whether
    // it was.
    static Result<bool> remove_stale(const std::string& dev, in_addr_t addr, int prefix);

    const std::string& device() const { return dev_; }
    // "192.0.2.100/24 on eth0", for messages.
    std::string describe() const;

 private:
    struct SocketCloser {
        void operator()(mnl_socket* socket) const;
    };
    VipAddress(std::unique_ptr<mnl_socket, SocketCloser> socket, std::string dev,
               unsigned ifindex, in_addr_t addr, int prefix)
        : socket_(std::move(socket)), dev_(std::move(dev)), ifindex_(ifindex), addr_(addr),
          prefix_(prefix) {}

    std::unique_ptr<mnl_socket, SocketCloser> socket_;
    std::string dev_;
    unsigned ifindex_ = 0;
    in_addr_t addr_ = 0;  // network byte order
    int prefix_ = 0;
    unsigned seq_ = 0;
};

}  // namespace tcpfo
