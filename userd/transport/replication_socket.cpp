#include "userd/transport/replication_socket.h"

#include <vector>

#include "userd/base/tcp_socket.h"
#include "userd/transport/sctp_link.h"
#include "userd/transport/tcp_link.h"

namespace tcpfo {

namespace {

std::vector<sockaddr_in> both(const PathAddresses& a) {
    std::vector<sockaddr_in> out{a.first};
    if (a.second) out.push_back(*a.second);
    return out;
}

}  // namespace

Result<UniqueFd> listen_replication(Transport transport, const PathAddresses& at) {
    if (transport == Transport::sctp) return listen_sctp(both(at));
    return listen_tcp(at.first);
}

Result<UniqueFd> connect_replication(Transport transport, const PathAddresses& to, const PathAddresses& from) {
    if (transport == Transport::sctp) return connect_sctp(both(to), both(from));
    return connect_nonblocking(to.first);
}

Result<std::unique_ptr<Link>> open_replication_link(Transport transport, EventLoop& loop, UniqueFd fd,
                                                    std::string name, Link::Callbacks callbacks,
                                                    std::unique_ptr<StreamAuth> auth) {
    if (transport == Transport::sctp) {
        auto link = SctpLink::open(loop, std::move(fd), std::move(name), std::move(callbacks), std::move(auth));
        if (!link) return std::unexpected(link.error());
        return std::unique_ptr<Link>(std::move(*link));
    }
    auto link = TcpLink::open(loop, std::move(fd), std::move(name), std::move(callbacks), std::move(auth));
    if (!link) return std::unexpected(link.error());
    return std::unique_ptr<Link>(std::move(*link));
}

}  // namespace tcpfo
