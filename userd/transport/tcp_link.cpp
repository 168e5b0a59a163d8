#include "userd/transport/tcp_link.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace tcpfo {

namespace {

bool tcp_connecting(int fd) {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    return info.tcpi_state == TCP_SYN_SENT;
}

const StreamSocketKind kTcp{IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", SIZE_MAX, tcp_connecting};

}  // namespace

Result<std::unique_ptr<TcpLink>> TcpLink::open(EventLoop& loop, UniqueFd fd, std::string name, Callbacks callbacks,
                                               std::unique_ptr<StreamAuth> auth) {
    return open_as<TcpLink>(loop, std::move(fd), std::move(name), std::move(callbacks), std::move(auth), kTcp);
}

}  // namespace tcpfo
