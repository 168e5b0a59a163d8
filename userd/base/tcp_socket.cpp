#include "userd/base/tcp_socket.h"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "userd/base/inet_address.h"

namespace tcpfo {

Result<UniqueFd> connect_nonblocking(const sockaddr_in& to, const sockaddr_in* from) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "can't create socket for {}", to_string(to));
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (from && bind(fd.get(), reinterpret_cast<const sockaddr*>(from), sizeof *from) != 0)
        return sys_fail(errno, "can't bind {} to reach {}", to_string(*from), to_string(to));
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
        return sys_fail(errno, "can't connect to {}", to_string(to));
    return fd;
}

Result<UniqueFd> listen_tcp(const sockaddr_in& at) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "can't create socket to listen on {}", to_string(at));
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        return sys_fail(errno, "can't listen on {}", to_string(at));
    if (listen(fd.get(), 16) != 0) return sys_fail(errno, "can't listen on {}", to_string(at));
    return fd;
}

}  // namespace tcpfo
