// End-to-end proof of a takeover: a client streams both ways to the VIP on server A;
// A "crashes" (its link is cut, its process stops); server B claims the connection
// with the state read off A's socket, claims the VIP, announces it, and continues both
// streams. The client must read every byte in order and never see a reset or FIN.
//
//   client 192.0.2.1 ──┐
//   A 192.0.2.11 + VIP ─┼── br0 (namespace TCPFO_NS_BRIDGE; ports pc, pa, pb)
//   B 192.0.2.12 ──────┘
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "userd/takeover/gratuitous_arp.h"
#include "netns_harness.h"
#include "stream_end.h"
#include "userd/takeover/tcp_repair.h"
#include "userd/takeover/vip_address.h"

namespace tcpfo {
namespace {

using test::now_ns;
constexpr uint16_t service_port = 7000;
constexpr uint8_t client_salt = 0x11, server_salt = 0x22;
constexpr uint64_t bytes_before_crash = 4 << 20;
constexpr uint64_t bytes_after_takeover = 8 << 20;

bool wait_for(const std::function<bool()>& condition, uint64_t timeout_ms) {
    const uint64_t deadline = now_ns() + timeout_ms * 1'000'000;
    while (!condition()) {
        if (now_ns() > deadline) return false;
        poll(nullptr, 0, 1);
    }
    return true;
}

UniqueFd listen_on(const char* ip, uint16_t port) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in at = test::socket_address(ip, port);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)) < 0 || listen(fd.get(), 8) < 0)
        fd.reset();
    return fd;
}

double ms(uint64_t from, uint64_t to) { return (double(to) - double(from)) / 1e6; }

TEST(Takeover, ClientStreamSurvivesServerCrash) {
    const auto client_ns = test::namespace_name("TCPFO_NS_CLIENT");
    const auto a_ns = test::namespace_name("TCPFO_NS_A");
    const auto b_ns = test::namespace_name("TCPFO_NS_B");
    const auto bridge_ns = test::namespace_name("TCPFO_NS_BRIDGE");
    ASSERT_FALSE(client_ns.empty() || a_ns.empty() || b_ns.empty() || bridge_ns.empty())
        << "run through tests/repair/run_repair_tests.sh (namespaces)";
    const in_addr_t vip = test::ipv4("192.0.2.100");

    // Server A holds the VIP and serves; B's replica listens on the wildcard address, as
    // a real replica would, so the rebuilt VIP:port socket must coexist with it.
    std::optional<VipAddress> vip_a;
    UniqueFd listener_a, listener_b;
    test::run_in_netns(a_ns, [&] {
        auto claimed = VipAddress::claim("eth0", vip, 24);
        ASSERT_TRUE(claimed) << claimed.error().message;
        vip_a.emplace(std::move(*claimed));
        listener_a = listen_on("0.0.0.0", service_port);
    });
    ASSERT_TRUE(vip_a && listener_a);
    test::run_in_netns(b_ns, [&] { listener_b = listen_on("0.0.0.0", service_port); });
    ASSERT_TRUE(listener_b);

    test::TcpFlagWatch watch;
    UniqueFd client;
    test::run_in_netns(client_ns, [&] {
        ASSERT_EQ(test::TcpFlagWatch::start(watch, "eth0", service_port), "");
        client.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in to = test::socket_address("192.0.2.100", service_port);
        ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0)
            << std::strerror(errno);
    });
    ASSERT_TRUE(client);
    UniqueFd server_a(accept4(listener_a.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(server_a);

    // Stream offset 0 is the byte after each ISN. Nothing has been sent yet, so the
    // snapshot's sequences are exactly ISN + 1 on both sides.
    auto initial = snapshot_connection(server_a.get());
    ASSERT_TRUE(initial) << initial.error().message;
    const uint32_t server_base = initial->snd_una, client_base = initial->rcv_nxt;

    test::StreamEnd client_end(client.get(), client_salt, server_salt, 0, 0);
    test::StreamEnd a_end(server_a.get(), server_salt, client_salt, 0, 0);
    client_end.start();
    a_end.start();
    ASSERT_TRUE(wait_for([&] {
        return (client_end.received() >= bytes_before_crash && a_end.received() >= bytes_before_crash) ||
               !client_end.error().empty() || !a_end.error().empty();
    }, 20'000)) << "stream did not reach " << bytes_before_crash << " bytes each way";
    ASSERT_EQ(client_end.error(), "");
    ASSERT_EQ(a_end.error(), "");

    // The crash: cut A's link first (nothing more leaves or reaches A), then stop its
    // process. The connection state is now frozen on A's side.
    std::string cut;
    test::run_in_netns(bridge_ns, [&] { cut = test::set_link_up("pa", false); });
    ASSERT_EQ(cut, "");
    a_end.stop();

    // What the backup's log would hold: client bytes A received but its application had
    // not read yet. They must continue the pattern exactly up to rcv_nxt.
    uint64_t a_consumed = a_end.received();
    for (;;) {
        uint8_t buf[65536];
        const ssize_t n = recv(server_a.get(), buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0) break;
        ASSERT_EQ(test::check_pattern(buf, size_t(n), a_consumed, client_salt), size_t(n));
        a_consumed += uint64_t(n);
    }

    auto state = snapshot_connection(server_a.get());
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(uint32_t(state->rcv_nxt - client_base), uint32_t(a_consumed))
        << "client bytes A received are not all accounted for";
    EXPECT_EQ(state->mss, initial->mss);
    EXPECT_EQ(state->timestamps_ok, initial->timestamps_ok);
    auto closed = close_silently(std::move(server_a));
    ASSERT_TRUE(closed) << closed.error().message;
    auto released = vip_a->release();
    ASSERT_TRUE(released) << released.error().message;

    // Let the client consume whatever A delivered before the crash, so the first byte
    // it reads after the takeover can only come from B.
    ASSERT_TRUE(wait_for([&] {
        int queued = 0;
        return ioctl(client.get(), SIOCINQ, &queued) == 0 && queued == 0;
    }, 5'000));
    const uint64_t client_had = client_end.received();
    client_end.arm_first_read_after(client_had);
    ASSERT_GE(client_had, uint64_t(state->snd_una - server_base))
        << "client read bytes it never acknowledged to A?";

    // What the replica has produced between snd_una and snd_nxt: output the primary sent
    // and the client may or may not have.
    std::vector<uint8_t> sent_unacked(uint32_t(state->snd_nxt - state->snd_una));
    test::fill_pattern(sent_unacked.data(), sent_unacked.size(), uint32_t(state->snd_una - server_base),
                       server_salt);

    // The takeover on B, in the order the design requires: rebuild (VIP not yet local,
    // so no client segment can meet a missing socket), claim the VIP, announce it.
    UniqueFd server_b;
    std::optional<VipAddress> vip_b;
    std::optional<RepairState> rebuilt_state;
    uint64_t t_start = 0, t_rebuilt = 0, t_claimed = 0, t_announced = 0;
    // Opened ahead and kept past the takeover, as failoverd would: closing a packet
    // socket costs an RCU grace period, which must not sit on the takeover path.
    std::optional<ArpAnnouncer> announcer;
    test::run_in_netns(b_ns, [&] {
        auto opened = ArpAnnouncer::open("eth0");
        ASSERT_TRUE(opened) << opened.error().message;
        announcer.emplace(std::move(*opened));
    });
    ASSERT_TRUE(announcer);
    test::run_in_netns(b_ns, [&] {
        t_start = now_ns();
        auto rebuilt = rebuild_connection(*state, sent_unacked);
        t_rebuilt = now_ns();
        ASSERT_TRUE(rebuilt) << rebuilt.error().message;
        server_b = std::move(*rebuilt);
        // Read back at once (a few microseconds): once the VIP is claimed the client's
        // segments arrive and move the sequences on.
        auto check = snapshot_connection(server_b.get());
        ASSERT_TRUE(check) << check.error().message;
        rebuilt_state = *check;
        const uint64_t t_checked = now_ns();
        auto claimed = VipAddress::claim("eth0", vip, 24);
        t_claimed = now_ns();
        ASSERT_TRUE(claimed) << claimed.error().message;
        vip_b.emplace(std::move(*claimed));
        auto announced = announcer->announce(vip, 3);
        ASSERT_TRUE(announced) << announced.error().message;
        // The client's answer tells the rebuilt socket how far the client really got.
        auto probed = request_ack(server_b.get());
        t_announced = now_ns();
        ASSERT_TRUE(probed) << probed.error().message;
        t_claimed -= t_checked - t_rebuilt;  // report the claim's own time
    });
    ASSERT_TRUE(server_b && vip_b && rebuilt_state);

    // The rebuilt socket carries the primary's state.
    EXPECT_EQ(rebuilt_state->local.sin_addr.s_addr, vip);
    EXPECT_EQ(rebuilt_state->snd_una, state->snd_una);
    EXPECT_EQ(rebuilt_state->snd_nxt, state->snd_nxt);
    EXPECT_EQ(rebuilt_state->rcv_nxt, state->rcv_nxt);
    EXPECT_EQ(rebuilt_state->mss, state->mss);
    EXPECT_EQ(rebuilt_state->wscale_ok, state->wscale_ok);
    EXPECT_EQ(rebuilt_state->snd_wscale, state->snd_wscale);
    EXPECT_EQ(rebuilt_state->rcv_wscale, state->rcv_wscale);
    EXPECT_EQ(rebuilt_state->sack_ok, state->sack_ok);
    EXPECT_EQ(rebuilt_state->timestamps_ok, state->timestamps_ok);
    EXPECT_GE(int32_t(rebuilt_state->tsval - state->tsval), 0) << "TSval went backwards";

    // The replica continues both streams where the rebuilt sequences say: its output
    // from snd_nxt (the socket holds the rest), its input from rcv_nxt.
    test::StreamEnd b_end(server_b.get(), server_salt, client_salt,
                          uint32_t(state->snd_nxt - server_base),
                          uint32_t(state->rcv_nxt - client_base));
    b_end.start();
    const bool resumed = wait_for([&] {
        return (client_end.received() >= client_had + bytes_after_takeover &&
                b_end.received() >= a_consumed + bytes_after_takeover) ||
               !client_end.error().empty() || !b_end.error().empty();
    }, 10'000);
    const uint64_t t_first_byte = client_end.first_read_after_ns();
    client_end.stop();
    b_end.stop();
    watch.stop();

    if (!resumed) {
        // What the kernels think, to tell a routing/ARP problem from a sequence one.
        for (const auto* ns : {&client_ns, &b_ns}) {
            const std::string cmd = fmt::format(
                "ip -n {0} neigh; ip netns exec {0} ss -tinoe; ip netns exec {0} nstat -az | "
                "grep -v -E ' 0 +0.0$'", *ns);
            std::printf("--- %s\n", ns->c_str());
            std::fflush(stdout);
            if (std::system(cmd.c_str()) != 0) std::printf("(diagnostics failed)\n");
        }
        std::printf("snapshot: snd_wnd %u rcv_wnd %u tsval %u wscale %u/%u\n", state->snd_wnd,
                    state->rcv_wnd, state->tsval, state->snd_wscale, state->rcv_wscale);
    }
    EXPECT_EQ(client_end.error(), "") << "client";
    EXPECT_EQ(b_end.error(), "") << "server B";
    ASSERT_TRUE(resumed) << "after takeover the client read " << client_end.received() - client_had
                         << " bytes and B " << b_end.received() - a_consumed;
    EXPECT_EQ(watch.resets(), 0u) << "a RST was on the client's link";
    EXPECT_EQ(watch.fins(), 0u) << "a FIN was on the client's link";
    ASSERT_NE(t_first_byte, 0u);

    tcp_info info{};
    socklen_t len = sizeof(info);
    getsockopt(server_b.get(), SOL_TCP, TCP_INFO, &info, &len);
    std::printf(
        "takeover: rebuild %.3f ms (%u bytes sent, unacked), VIP claim %.3f ms, gratuitous ARP +"
        " request_ack %.3f ms, first write +%.3f ms;"
        " client's first byte %.3f ms after rebuild_connection started\n"
        "stream: client read %llu bytes before the crash (acked %u), %llu after; B read %llu;"
        " rebuilt socket's snd_mss %u (client MSS %u); %llu segments watched, 0 RST, 0 FIN\n",
        ms(t_start, t_rebuilt), unsigned(sent_unacked.size()), ms(t_rebuilt, t_claimed), ms(t_claimed, t_announced),
        ms(t_announced, b_end.first_write_ns()), ms(t_start, t_first_byte),
        (unsigned long long)client_had, unsigned(state->snd_una - server_base),
        (unsigned long long)(client_end.received() - client_had),
        (unsigned long long)(b_end.received() - a_consumed), info.tcpi_snd_mss, state->mss,
        (unsigned long long)watch.segments());
    RecordProperty("first_byte_after_rebuild_us", int((t_first_byte - t_start) / 1000));
}

}  // namespace
}  // namespace tcpfo
