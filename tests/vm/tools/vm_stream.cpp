// tcpfo-vm-stream: one TCP stream between two guests, with a checksum at both ends.
//
//   tcpfo-vm-stream recv --port P [--progress FILE]
//   tcpfo-vm-stream send --to ADDR --port P --bytes N [--rate BYTES_PER_S]
//                        [--user-timeout MS] [--progress FILE]
//
// `recv` accepts one connection and reads it to EOF; `send` writes N bytes of the
// shared pattern (N = 0: until an error), then half-closes and waits for the
// receiver to close, so "sent" means the receiver has read everything. Each side
// prints "<sent|received> <bytes> bytes fnv64 <hash>" on success; on failure one line
// saying what failed and after how many bytes, and exits 1. The progress file (created
// once `recv` listens) lets the host watch the stream move, stall and resume.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"
#include "progress_file.h"
#include "stream_pattern.h"
#include "tool_args.h"

namespace tcpfo::vmtools {
namespace {

constexpr size_t kChunk = 64 * 1024;

// The project's fd owner (userd/unique_fd.h).
using Fd = UniqueFd;

Result<sockaddr_in> parse_endpoint(const std::string& addr, uint64_t port) {
    if (port == 0 || port > 65535) return fail("port {} is out of range 1-65535", port);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1)
        return fail("'{}' is not an IPv4 address", addr);
    return sa;
}

void sleep_ns(uint64_t ns) {
    timespec ts{static_cast<time_t>(ns / 1000000000ULL), static_cast<long>(ns % 1000000000ULL)};
    nanosleep(&ts, nullptr);
}

uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

Result<StreamChecksum> receive(const ToolArgs& args) {
    auto port = args.number("port");
    if (!port) return std::unexpected(port.error());
    auto local = parse_endpoint("0.0.0.0", *port);
    if (!local) return std::unexpected(local.error());

    Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (listener.get() < 0) return sys_fail(errno, "can't create a TCP socket");
    int one = 1;
    setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener.get(), reinterpret_cast<sockaddr*>(&*local), sizeof *local) < 0)
        return sys_fail(errno, "can't bind port {}", *port);
    if (listen(listener.get(), 1) < 0) return sys_fail(errno, "can't listen on port {}", *port);
    ProgressFile progress(args.text_or("progress", ""));
    if (!progress.ok()) return sys_fail(errno, "can't create progress file");

    Fd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.get() < 0) return sys_fail(errno, "can't accept on port {}", *port);
    StreamChecksum sum;
    std::vector<uint8_t> buf(kChunk);
    for (;;) {
        ssize_t n = read(conn.get(), buf.data(), buf.size());
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_fail(errno, "read failed after {} bytes", sum.bytes());
        }
        sum.update(buf.data(), static_cast<size_t>(n));
        progress.update(sum.bytes());
    }
    progress.update(sum.bytes(), true);
    return sum;
}

Result<StreamChecksum> send(const ToolArgs& args) {
    auto to = args.text("to");
    if (!to) return std::unexpected(to.error());
    auto port = args.number("port");
    if (!port) return std::unexpected(port.error());
    auto total = args.number("bytes");
    if (!total) return std::unexpected(total.error());
    auto rate = args.number_or("rate", 0);
    if (!rate) return std::unexpected(rate.error());
    auto user_timeout = args.number_or("user-timeout", 0);
    if (!user_timeout) return std::unexpected(user_timeout.error());
    auto peer = parse_endpoint(*to, *port);
    if (!peer) return std::unexpected(peer.error());
    ProgressFile progress(args.text_or("progress", ""));
    if (!progress.ok()) return sys_fail(errno, "can't create progress file");

    Fd sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (sock.get() < 0) return sys_fail(errno, "can't create a TCP socket");
    if (*user_timeout > 0) {
        // Without it a sender whose peer died retries for ~15 minutes (tcp_retries2).
        unsigned ms = static_cast<unsigned>(*user_timeout);
        if (setsockopt(sock.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) < 0)
            return sys_fail(errno, "can't set TCP_USER_TIMEOUT {} ms", ms);
    }
    if (connect(sock.get(), reinterpret_cast<sockaddr*>(&*peer), sizeof *peer) < 0)
        return sys_fail(errno, "can't connect to {}:{}", *to, *port);

    PatternGenerator pattern;
    StreamChecksum sum;
    std::vector<uint8_t> buf(kChunk);
    const uint64_t start_ns = monotonic_ns();
    while (*total == 0 || sum.bytes() < *total) {
        size_t len = kChunk;
        if (*rate > 0) len = std::min<uint64_t>(len, std::max<uint64_t>(*rate / 50, 1024));
        if (*total > 0) len = std::min<uint64_t>(len, *total - sum.bytes());
        if (*rate > 0) {
            // Paced against the start, not per chunk, so sleep overshoot never slows
            // the stream below --rate.
            uint64_t due_ns = start_ns + sum.bytes() * 1000000000ULL / *rate;
            uint64_t now = monotonic_ns();
            if (due_ns > now) sleep_ns(due_ns - now);
        }
        pattern.fill(buf.data(), len);
        size_t off = 0;
        while (off < len) {
            ssize_t n = write(sock.get(), buf.data() + off, len - off);
            if (n < 0) {
                if (errno == EINTR) continue;
                return sys_fail(errno, "write to {}:{} failed after {} bytes", *to, *port,
                                sum.bytes() + off);
            }
            off += static_cast<size_t>(n);
        }
        sum.update(buf.data(), len);
        progress.update(sum.bytes());
    }
    progress.update(sum.bytes(), true);
    if (shutdown(sock.get(), SHUT_WR) < 0) return sys_fail(errno, "can't half-close");
    // The receiver closes after reading our FIN: everything we wrote arrived.
    char byte;
    ssize_t n;
    while ((n = read(sock.get(), &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n < 0) return sys_fail(errno, "waiting for the receiver to close failed");
    return sum;
}

int usage() {
    fmt::print(stderr,
               "usage: tcpfo-vm-stream recv --port P [--progress FILE]\n"
               "       tcpfo-vm-stream send --to ADDR --port P --bytes N [--rate B/s] "
               "[--user-timeout MS] [--progress FILE]\n");
    return 2;
}

}  // namespace
}  // namespace tcpfo::vmtools

int main(int argc, char** argv) {
    using namespace tcpfo::vmtools;
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) return usage();
    std::string verb = argv[1];
    bool is_send = verb == "send";
    if (!is_send && verb != "recv") return usage();
    auto args = is_send ? ToolArgs::parse(argc, argv, 2,
                                          {"to", "port", "bytes", "rate", "user-timeout", "progress"})
                        : ToolArgs::parse(argc, argv, 2, {"port", "progress"});
    if (!args) {
        fmt::print(stderr, "tcpfo-vm-stream: {}\n", args.error().message);
        return 2;
    }
    auto sum = is_send ? send(*args) : receive(*args);
    if (!sum) {
        fmt::print(stderr, "tcpfo-vm-stream {}: {}\n", verb, sum.error().message);
        return 1;
    }
    fmt::print("{} {} bytes fnv64 {:016x}\n", is_send ? "sent" : "received", sum->bytes(),
               sum->hash());
    return 0;
}
