#include "userd/node/silent_close.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "userd/base/log.h"

namespace tcpfo {
namespace {

// Every state but LISTEN and TIME_WAIT (bits 1 << TCP_*; 12 is NEW_SYN_RECV, a
// handshake the service has not accepted yet).
constexpr uint32_t kStatesToClose = 0x1fff & ~(1u << TCP_LISTEN) & ~(1u << TCP_TIME_WAIT);

struct MnlClose {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlClose>;

Result<MnlSocket> open_diag_socket() {
    MnlSocket s(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
    if (!s) return sys_fail(errno, "can't open a sock_diag netlink socket");
    if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        return sys_fail(errno, "can't bind a sock_diag netlink socket");
    return s;
}

nlmsghdr* put_request(char* buf, uint16_t type, uint16_t flags, uint32_t seq, const inet_diag_sockid& id,
                      uint32_t states) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    auto* req = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = AF_INET;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = states;
    req->id = id;
    return nlh;
}

struct DumpState {
    in_addr_t vip;
    uint16_t port_net;
    std::vector<inet_diag_sockid> matching;
};

int on_dumped(const nlmsghdr* nlh, void* data) {
    auto* state = static_cast<DumpState*>(data);
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(inet_diag_msg)) return MNL_CB_OK;
    const auto* msg = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
    if (msg->idiag_family == AF_INET && msg->id.idiag_src[0] == state->vip && msg->id.idiag_sport == state->port_net)
        state->matching.push_back(msg->id);
    return MNL_CB_OK;
}

Result<std::vector<inet_diag_sockid>> dump_matching(mnl_socket* s, in_addr_t vip, uint16_t port) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    const uint32_t seq = 1;
    nlmsghdr* nlh = put_request(buf.data(), SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, seq, inet_diag_sockid{}, kStatesToClose);
    if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0) return sys_fail(errno, "sock_diag dump");
    DumpState state{vip, htons(port), {}};
    const uint32_t portid = mnl_socket_get_portid(s);
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(s, buf.data(), buf.size());
        if (n < 0) return sys_fail(errno, "sock_diag dump");
        const int r = mnl_cb_run(buf.data(), size_t(n), seq, portid, on_dumped, &state);
        if (r == MNL_CB_STOP) break;
        if (r < 0) return sys_fail(errno, "sock_diag dump");
    }
    return std::move(state.matching);
}

// 0, or the errno SOCK_DESTROY answered.
int destroy(mnl_socket* s, const inet_diag_sockid& id, uint32_t seq) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = put_request(buf.data(), SOCK_DESTROY, NLM_F_ACK, seq, id, kStatesToClose);
    if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0) return errno;
    const ssize_t n = mnl_socket_recvfrom(s, buf.data(), buf.size());
    if (n < 0) return errno;
    if (mnl_cb_run(buf.data(), size_t(n), seq, mnl_socket_get_portid(s), nullptr, nullptr) < 0) return errno;
    return 0;
}

}  // namespace

Result<ClosedSockets> close_sockets_of(in_addr_t vip, uint16_t port) {
    auto s = open_diag_socket();
    if (!s) return std::unexpected(s.error());
    auto matching = dump_matching(s->get(), vip, port);
    if (!matching) return std::unexpected(matching.error());
    ClosedSockets result;
    uint32_t seq = 2;
    for (const inet_diag_sockid& id : *matching) {
        const int e = destroy(s->get(), id, seq++);
        // Gone in between (the service closed it, or a timer did): nothing left to close.
        if (e == 0 || e == ENOENT) {
            result.closed.push_back(ConnKey{id.idiag_dst[0], id.idiag_src[0], id.idiag_dport, id.idiag_sport});
            continue;
        }
        if (result.failed++ == 0) result.first_error = std::strerror(e);
    }
    return result;
}

}  // namespace tcpfo
