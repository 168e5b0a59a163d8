// close_silently() puts nothing on the wire: no FIN, no RST. A UDP marker sent after
// the close orders events: close() sends its FIN or RST synchronously, so one would be
// captured before the marker. A normally closed connection is the control that shows
// the capture does see a FIN.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>

#include <gtest/gtest.h>

#include "netns_harness.h"
#include "userd/takeover/tcp_repair.h"

namespace tcpfo {
namespace {

constexpr uint16_t service_port = 7001;
constexpr uint16_t marker_port = 7999;

struct Pair {
    UniqueFd client, server;
};

// Connects the client to server A's own address and exchanges one byte each way, so
// both ends are ESTABLISHED with nothing in flight.
Pair connect_pair(const std::string& client_ns, int listener) {
    Pair p;
    test::run_in_netns(client_ns, [&] {
        p.client.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in to = test::socket_address("192.0.2.11", service_port);
        if (connect(p.client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0)
            p.client.reset();
    });
    if (!p.client) return p;
    p.server.reset(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    char byte = 'x';
    if (write(p.client.get(), &byte, 1) != 1 || read(p.server.get(), &byte, 1) != 1 ||
        write(p.server.get(), &byte, 1) != 1 || read(p.client.get(), &byte, 1) != 1)
        p.server.reset();
    return p;
}

// Sends a UDP marker from server A's namespace and waits until the client's capture has
// seen `expected` markers. False on timeout.
bool send_marker_and_wait(const std::string& server_ns, test::TcpFlagWatch& watch,
                          uint64_t expected) {
    test::run_in_netns(server_ns, [] {
        UniqueFd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_in to = test::socket_address("192.0.2.1", marker_port);
        sendto(udp.get(), "m", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    });
    const uint64_t deadline = test::now_ns() + 3'000'000'000ull;
    while (watch.udp_to(marker_port) < expected) {
        if (test::now_ns() > deadline) return false;
        poll(nullptr, 0, 2);
    }
    return true;
}

TEST(CloseSilently, SendsNeitherFinNorReset) {
    const auto client_ns = test::namespace_name("TCPFO_NS_CLIENT");
    const auto server_ns = test::namespace_name("TCPFO_NS_A");
    ASSERT_FALSE(client_ns.empty() || server_ns.empty())
        << "run through tests/repair/run_repair_tests.sh (namespaces)";

    UniqueFd listener;
    test::run_in_netns(server_ns, [&] {
        listener.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in at = test::socket_address("192.0.2.11", service_port);
        if (bind(listener.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)) < 0 ||
            listen(listener.get(), 4) < 0)
            listener.reset();
    });
    ASSERT_TRUE(listener) << std::strerror(errno);

    test::TcpFlagWatch watch;
    std::string started;
    test::run_in_netns(client_ns, [&] { started = test::TcpFlagWatch::start(watch, "eth0", service_port); });
    ASSERT_EQ(started, "");
    watch.watch_udp_marker(marker_port);

    Pair silent = connect_pair(client_ns, listener.get());
    ASSERT_TRUE(silent.client && silent.server) << "connection setup failed";
    auto closed = close_silently(std::move(silent.server));
    ASSERT_TRUE(closed) << closed.error().message;
    ASSERT_TRUE(send_marker_and_wait(server_ns, watch, 1)) << "marker not captured";
    EXPECT_EQ(watch.fins(), 0u) << "close_silently sent a FIN";
    EXPECT_EQ(watch.resets(), 0u) << "close_silently sent a RST";
    char byte;
    EXPECT_EQ(recv(silent.client.get(), &byte, 1, MSG_DONTWAIT), -1) << "client saw EOF";
    EXPECT_EQ(errno, EAGAIN) << std::strerror(errno);

    // Control: a plain close() on the same path is seen as a FIN before the marker.
    Pair plain = connect_pair(client_ns, listener.get());
    ASSERT_TRUE(plain.client && plain.server) << "connection setup failed";
    plain.server.reset();
    ASSERT_TRUE(send_marker_and_wait(server_ns, watch, 2)) << "marker not captured";
    EXPECT_GE(watch.fins(), 1u) << "capture missed the FIN of a normal close";
    // Stopped before the sockets go out of scope: closing the client of the silent pair
    // sends a FIN to a server that no longer knows it, which answers with a RST.
    watch.stop();
}

}  // namespace
}  // namespace tcpfo
