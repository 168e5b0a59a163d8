#include "userd/transport/sctp_link.h"

#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "userd/base/inet_address.h"

namespace tcpfo {

namespace {

bool sctp_connecting(int fd) {
    sctp_status status{};
    socklen_t len = sizeof status;
    if (getsockopt(fd, IPPROTO_SCTP, SCTP_STATUS, &status, &len) != 0) return false;
    return status.sstat_state == SCTP_COOKIE_WAIT || status.sstat_state == SCTP_COOKIE_ECHOED;
}

// Each send() is one SCTP message, refused (EMSGSIZE) if larger than the send buffer
// and held back whole (EAGAIN) until it fits: a modest bound keeps both away. The
// receiver gets the same bytes in order whatever the message boundaries.
constexpr size_t kMaxMessage = 32 * 1024;
// Each direction's socket buffer (the kernel counts twice this, bookkeeping included).
constexpr size_t kSctpBufferBytes = 4 * 1024 * 1024;

const StreamSocketKind kSctp{IPPROTO_SCTP, SCTP_NODELAY, "SCTP_NODELAY", kMaxMessage, sctp_connecting};

std::string addresses_text(std::span<const sockaddr_in> addresses) {
    std::string text;
    for (const sockaddr_in& a : addresses) text += (text.empty() ? "" : ",") + to_string(a);
    return text;
}

Result<UniqueFd> sctp_socket(const std::string& what) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_SCTP));
    if (!fd) {
        if (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT)
            return fail("SCTP is not available in this kernel (socket: {}): load the sctp module",
                        std::strerror(errno));
        return sys_fail(errno, "can't create an SCTP socket {}", what);
    }
    return fd;
}

// The endpoint's defaults, inherited by its associations (and an accepted socket's).
Result<void> set_timing(int fd, const SctpTiming& timing, const std::string& what) {
    sctp_rtoinfo rto{};
    rto.srto_initial = timing.rto_initial_ms;
    rto.srto_min = timing.rto_min_ms;
    rto.srto_max = timing.rto_max_ms;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto) != 0)
        return sys_fail(errno, "can't set SCTP_RTOINFO {}", what);
    sctp_paddrparams paths{};  // spp_address left empty: every path's default
    paths.spp_hbinterval = timing.path_heartbeat_ms;
    paths.spp_pathmaxrxt = timing.path_max_retrans;
    paths.spp_flags = SPP_HB_ENABLE;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &paths, sizeof paths) != 0)
        return sys_fail(errno, "can't set SCTP_PEER_ADDR_PARAMS {}", what);
    sctp_assocparams assoc{};
    assoc.sasoc_asocmaxrxt = timing.assoc_max_retrans;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_ASSOCINFO, &assoc, sizeof assoc) != 0)
        return sys_fail(errno, "can't set SCTP_ASSOCINFO {}", what);
    const int on = 1;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) != 0)
        return sys_fail(errno, "can't set SCTP_NODELAY {}", what);
    // SCTP does not grow its buffers as TCP does: with the default (net.core's
    // 208 KiB, of which the receiver advertises about half) the window, not the path,
    // set the stream's rate. Above rmem_max/wmem_max only with CAP_NET_ADMIN (the
    // FORCE options), which failoverd keeps; without it, what the limits allow.
    const int buffer = int(kSctpBufferBytes);
    for (const auto& [force, plain] : {std::pair{SO_SNDBUFFORCE, SO_SNDBUF}, std::pair{SO_RCVBUFFORCE, SO_RCVBUF}})
        if (setsockopt(fd, SOL_SOCKET, force, &buffer, sizeof buffer) != 0)
            (void)setsockopt(fd, SOL_SOCKET, plain, &buffer, sizeof buffer);
    return {};
}

Result<void> bind_all(int fd, std::span<const sockaddr_in> at, const std::string& what) {
    std::vector<sockaddr_in> addresses(at.begin(), at.end());
    if (sctp_bindx(fd, reinterpret_cast<sockaddr*>(addresses.data()), int(addresses.size()), SCTP_BINDX_ADD_ADDR) != 0)
        return sys_fail(errno, "can't bind SCTP to {} {}", addresses_text(at), what);
    return {};
}

}  // namespace

Result<void> check_sctp_available() {
    auto fd = sctp_socket("to see whether the kernel has SCTP");
    if (!fd) return std::unexpected(fd.error());
    return {};
}

Result<UniqueFd> listen_sctp(std::span<const sockaddr_in> at) {
    const std::string what = "to listen on " + addresses_text(at);
    auto fd = sctp_socket(what);
    if (!fd) return fd;
    const int one = 1;
    setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (auto r = set_timing(fd->get(), kSctpTiming, what); !r) return std::unexpected(r.error());
    if (auto r = bind_all(fd->get(), at, what); !r) return std::unexpected(r.error());
    if (listen(fd->get(), 16) != 0) return sys_fail(errno, "can't listen on {} (SCTP)", addresses_text(at));
    return fd;
}

Result<UniqueFd> connect_sctp(std::span<const sockaddr_in> to, std::span<const sockaddr_in> from) {
    const std::string what = "to reach " + addresses_text(to);
    auto fd = sctp_socket(what);
    if (!fd) return fd;
    if (auto r = set_timing(fd->get(), kSctpTiming, what); !r) return std::unexpected(r.error());
    if (!from.empty()) {
        std::vector<sockaddr_in> local(from.begin(), from.end());
        for (sockaddr_in& a : local) a.sin_port = 0;  // any port, the same on every address
        if (auto r = bind_all(fd->get(), local, what); !r) return std::unexpected(r.error());
    }
    std::vector<sockaddr_in> peer(to.begin(), to.end());
    if (sctp_connectx(fd->get(), reinterpret_cast<sockaddr*>(peer.data()), int(peer.size()), nullptr) != 0 &&
        errno != EINPROGRESS)
        return sys_fail(errno, "can't connect to {} (SCTP)", addresses_text(to));
    return fd;
}

Result<std::unique_ptr<SctpLink>> SctpLink::open(EventLoop& loop, UniqueFd fd, std::string name, Callbacks callbacks,
                                                 std::unique_ptr<StreamAuth> auth) {
    return open_as<SctpLink>(loop, std::move(fd), std::move(name), std::move(callbacks), std::move(auth), kSctp);
}

}  // namespace tcpfo
