// tcpfo-vm-sctp: one SCTP association between two guests through lksctp-tools'
// API (sctp_bindx, sctp_connectx, sctp_sendmsg, sctp_recvmsg), with a checksum at
// both ends: the transport failoverd will use where the kernel has SCTP.
//
//   tcpfo-vm-sctp server --bind ADDR[,ADDR...] --port P
//   tcpfo-vm-sctp client --to ADDR[,ADDR...] --port P --bytes N
//
// Messages go on stream 0, ordered, so the receiver's checksum must equal the
// sender's. Prints "<sent|received> <bytes> bytes fnv64 <hash> ..." on success, one
// error line and exit 1 otherwise. The server prints "listening" to stderr once bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"
#include "stream_pattern.h"
#include "tool_args.h"

namespace tcpfo::vmtools {
namespace {

constexpr size_t kMessage = 32 * 1024;

// The project's fd owner (userd/unique_fd.h).
using Fd = UniqueFd;

// "192.0.2.11,192.0.2.21" -> packed sockaddr_in array, as sctp_bindx/sctp_connectx take it.
Result<std::vector<sockaddr_in>> parse_addresses(const std::string& list, uint64_t port) {
    if (port == 0 || port > 65535) return fail("port {} is out of range 1-65535", port);
    std::vector<sockaddr_in> out;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string one = list.substr(start, end - start);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port));
        if (inet_pton(AF_INET, one.c_str(), &sa.sin_addr) != 1)
            return fail("'{}' is not an IPv4 address", one);
        out.push_back(sa);
        start = end + 1;
    }
    return out;
}

Result<StreamChecksum> serve(const ToolArgs& args) {
    auto bind_list = args.text("bind");
    if (!bind_list) return std::unexpected(bind_list.error());
    auto port = args.number("port");
    if (!port) return std::unexpected(port.error());
    auto addrs = parse_addresses(*bind_list, *port);
    if (!addrs) return std::unexpected(addrs.error());

    Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP));
    if (listener.get() < 0)
        return sys_fail(errno, "can't create an SCTP socket (is the sctp module loaded?)");
    if (sctp_bindx(listener.get(), reinterpret_cast<sockaddr*>(addrs->data()),
                   static_cast<int>(addrs->size()), SCTP_BINDX_ADD_ADDR) < 0)
        return sys_fail(errno, "sctp_bindx {} port {} failed", *bind_list, *port);
    if (listen(listener.get(), 1) < 0) return sys_fail(errno, "can't listen on port {}", *port);
    fmt::print(stderr, "listening\n");

    Fd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.get() < 0) return sys_fail(errno, "can't accept on port {}", *port);
    StreamChecksum sum;
    std::vector<uint8_t> buf(kMessage * 2);
    for (;;) {
        sctp_sndrcvinfo info{};
        int flags = 0;
        int n = sctp_recvmsg(conn.get(), buf.data(), buf.size(), nullptr, nullptr, &info, &flags);
        if (n == 0) break;  // the client's SHUTDOWN
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_fail(errno, "sctp_recvmsg failed after {} bytes", sum.bytes());
        }
        if (flags & MSG_NOTIFICATION) continue;
        if (info.sinfo_stream != 0) return fail("message on stream {}, expected 0", info.sinfo_stream);
        sum.update(buf.data(), static_cast<size_t>(n));
    }
    return sum;
}

Result<StreamChecksum> connect_and_send(const ToolArgs& args) {
    auto to = args.text("to");
    if (!to) return std::unexpected(to.error());
    auto port = args.number("port");
    if (!port) return std::unexpected(port.error());
    auto total = args.number("bytes");
    if (!total) return std::unexpected(total.error());
    auto addrs = parse_addresses(*to, *port);
    if (!addrs) return std::unexpected(addrs.error());

    Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP));
    if (sock.get() < 0)
        return sys_fail(errno, "can't create an SCTP socket (is the sctp module loaded?)");
    sctp_assoc_t assoc = 0;
    if (sctp_connectx(sock.get(), reinterpret_cast<sockaddr*>(addrs->data()),
                      static_cast<int>(addrs->size()), &assoc) < 0)
        return sys_fail(errno, "sctp_connectx to {} port {} failed", *to, *port);

    PatternGenerator pattern;
    StreamChecksum sum;
    std::vector<uint8_t> buf(kMessage);
    while (sum.bytes() < *total) {
        size_t len = std::min<uint64_t>(kMessage, *total - sum.bytes());
        pattern.fill(buf.data(), len);
        int n = sctp_sendmsg(sock.get(), buf.data(), len, nullptr, 0, 0, 0, /*stream=*/0, 0, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_fail(errno, "sctp_sendmsg failed after {} bytes", sum.bytes());
        }
        if (static_cast<size_t>(n) != len)
            return fail("sctp_sendmsg sent {} of a {}-byte message", n, len);
        sum.update(buf.data(), len);
    }
    // On a one-to-one socket shutdown() starts SCTP's graceful SHUTDOWN once all data
    // is acknowledged (SCTP_EOF is for one-to-many sockets); the server then reads 0.
    // Our own read returning 0 means the association closed cleanly.
    if (shutdown(sock.get(), SHUT_WR) < 0) return sys_fail(errno, "can't shut the association down");
    char byte;
    while (sctp_recvmsg(sock.get(), &byte, 1, nullptr, nullptr, nullptr, nullptr) > 0) {
    }
    fmt::print(stderr, "association {} closed\n", assoc);
    return sum;
}

int usage() {
    fmt::print(stderr,
               "usage: tcpfo-vm-sctp server --bind ADDR[,ADDR...] --port P\n"
               "       tcpfo-vm-sctp client --to ADDR[,ADDR...] --port P --bytes N\n");
    return 2;
}

}  // namespace
}  // namespace tcpfo::vmtools

int main(int argc, char** argv) {
    using namespace tcpfo::vmtools;
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) return usage();
    std::string verb = argv[1];
    bool is_client = verb == "client";
    if (!is_client && verb != "server") return usage();
    auto args = is_client ? ToolArgs::parse(argc, argv, 2, {"to", "port", "bytes"})
                          : ToolArgs::parse(argc, argv, 2, {"bind", "port"});
    if (!args) {
        fmt::print(stderr, "tcpfo-vm-sctp: {}\n", args.error().message);
        return 2;
    }
    auto sum = is_client ? connect_and_send(*args) : serve(*args);
    if (!sum) {
        fmt::print(stderr, "tcpfo-vm-sctp {}: {}\n", verb, sum.error().message);
        return 1;
    }
    fmt::print("{} {} bytes fnv64 {:016x}\n", is_client ? "sent" : "received", sum->bytes(),
               sum->hash());
    return 0;
}
