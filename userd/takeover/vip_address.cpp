#include "userd/takeover/vip_address.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

#include <fmt/core.h>

namespace tcpfo {
namespace {

std::string address_text(in_addr_t addr, int prefix) {
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &addr, text, sizeof(text));
    return fmt::format("{}/{}", text, prefix);
}

// Sends one RTM_NEWADDR/RTM_DELADDR and waits for the kernel's acknowledgement.
// Returns 0, or an errno value from the kernel's NLMSG_ERROR (or from the socket).
int change_address(mnl_socket* socket, unsigned* seq, uint16_t type, uint16_t flags,
                   unsigned ifindex, in_addr_t addr, int prefix) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    nlh->nlmsg_seq = ++*seq;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = ifindex;
    mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
    mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);

    if (mnl_socket_sendto(socket, nlh, nlh->nlmsg_len) < 0) return errno;
    const unsigned portid = mnl_socket_get_portid(socket);
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(socket, buf.data(), buf.size());
        if (n < 0) return errno;
        // mnl_cb_run returns -1 with errno from an NLMSG_ERROR, and MNL_CB_STOP on the
        // acknowledgement (an NLMSG_ERROR with error 0). One request is in flight at a
        // time, so no reply to an older request can be waiting here.
        const int ret = mnl_cb_run(buf.data(), n, nlh->nlmsg_seq, portid, nullptr, nullptr);
        if (ret == MNL_CB_ERROR) return errno;
        if (ret == MNL_CB_STOP) return 0;
    }
}

}  // namespace

void VipAddress::SocketCloser::operator()(mnl_socket* socket) const { mnl_socket_close(socket); }

std::string VipAddress::describe() const { return address_text(addr_, prefix_) + " on " + dev_; }

Result<VipAddress> VipAddress::claim(const std::string& dev, in_addr_t addr, int prefix) {
    const std::string what = fmt::format("can't add {} to {}", address_text(addr, prefix), dev);
    if (prefix < 1 || prefix > 32) return fail("{}: prefix length must be 1..32", what);
    if (addr == INADDR_ANY) return fail("{}: address is 0.0.0.0", what);
    if (dev.empty() || dev.size() >= IFNAMSIZ) return fail("{}: invalid device name", what);
    const unsigned ifindex = if_nametoindex(dev.c_str());
    if (ifindex == 0) return sys_fail(errno, "{}", what);

    std::unique_ptr<mnl_socket, SocketCloser> socket(mnl_socket_open(NETLINK_ROUTE));
    if (!socket) return sys_fail(errno, "{}: netlink socket", what);
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        return sys_fail(errno, "{}: netlink bind", what);

    VipAddress vip(std::move(socket), dev, ifindex, addr, prefix);
    // NLM_F_EXCL: an address already present is an error (EEXIST), never a silent
    // success, so two nodes cannot both believe they claimed the VIP on one host.
    if (int err = change_address(vip.socket_.get(), &vip.seq_, RTM_NEWADDR,
                                 NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefix))
        return sys_fail(err, "{}", what);
    return vip;
}

Result<void> VipAddress::release() {
    const int err = change_address(socket_.get(), &seq_, RTM_DELADDR, 0, ifindex_, addr_, prefix_);
    // EADDRNOTAVAIL: the address is no longer there; ENODEV: neither is the device.
    if (err == 0 || err == EADDRNOTAVAIL || err == ENODEV) return {};
    return sys_fail(err, "can't remove {} from {}", address_text(addr_, prefix_), dev_);
}

Result<bool> VipAddress::remove_stale(const std::string& dev, in_addr_t addr, int prefix) {
    const std::string what = fmt::format("can't remove {} from {}", address_text(addr, prefix), dev);
    const unsigned ifindex = if_nametoindex(dev.c_str());
    if (ifindex == 0) return sys_fail(errno, "{}", what);
    std::unique_ptr<mnl_socket, SocketCloser> socket(mnl_socket_open(NETLINK_ROUTE));
    if (!socket) return sys_fail(errno, "{}: netlink socket", what);
    if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) return sys_fail(errno, "{}: netlink bind", what);
    VipAddress vip(std::move(socket), dev, ifindex, addr, prefix);
    const int err = change_address(vip.socket_.get(), &vip.seq_, RTM_DELADDR, 0, ifindex, addr, prefix);
    if (err == 0) return true;
    if (err == EADDRNOTAVAIL) return false;
    return sys_fail(err, "{}", what);
}

}  // namespace tcpfo
