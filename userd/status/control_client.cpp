#include "userd/status/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "userd/base/unique_fd.h"

namespace tcpfo {

Result<std::string> control_request(const std::string& path, const std::string& request,
                                    const ControlClientLimits& limits) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path)
        return fail("control socket '{}': a path of 1 to {} bytes is needed", path, sizeof addr.sun_path - 1);
    path.copy(addr.sun_path, path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sys_fail(errno, "can't create a unix socket");
    timeval tv{limits.timeout_ms / 1000, (limits.timeout_ms % 1000) * 1000};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == ENOENT || errno == ECONNREFUSED) return sys_fail(errno, "no failoverd on {}", path);
        return sys_fail(errno, "can't connect to failoverd on {}", path);
    }
    // A failoverd that answers before reading (busy, or a request too long) may close
    // while we still send: its answer is then what to report.
    int send_error = 0;
    for (size_t sent = 0; sent < request.size();) {
        const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return fail("failoverd on {} did not take the request within {} ms", path, limits.timeout_ms);
            send_error = errno;
            break;
        }
        sent += size_t(n);
    }
    std::string response;
    char buf[64 * 1024];
    for (;;) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return fail("failoverd on {} did not answer within {} ms", path, limits.timeout_ms);
            if (errno == ECONNRESET && (!response.empty() || send_error)) break;  // the answer came first
            return sys_fail(errno, "can't read from failoverd on {}", path);
        }
        if (response.size() + size_t(n) > limits.max_response)
            return fail("failoverd on {} answered more than {} bytes", path, limits.max_response);
        response.append(buf, size_t(n));
    }
    if (response.empty() && send_error) return sys_fail(send_error, "can't send to failoverd on {}", path);
    if (response.empty()) return fail("failoverd on {} closed the connection without an answer", path);
    return response;
}

}  // namespace tcpfo
