// Bad inputs to the takeover kernel interfaces give one-line errors, and the VIP
// claim/release contract holds (exclusive claim, idempotent release).
#include <arpa/inet.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "userd/takeover/gratuitous_arp.h"
#include "netns_harness.h"
#include "userd/takeover/tcp_repair.h"
#include "userd/takeover/vip_address.h"

namespace tcpfo {
namespace {

using test::ipv4;
using test::run_in_netns;

const char* const vip = "192.0.2.100";

std::string unit_ns() { return test::namespace_name("TCPFO_NS_UNIT"); }

#define REQUIRE_NAMESPACE(ns) \
    ASSERT_FALSE((ns).empty()) << "run through tests/repair/run_repair_tests.sh (namespaces)"

void expect_one_line(const Error& e) {
    EXPECT_FALSE(e.message.empty());
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
}

RepairState valid_state() {
    RepairState s;
    s.local = test::socket_address(vip, 7000);
    s.remote = test::socket_address("192.0.2.1", 40000);
    s.snd_una = 1000;
    s.snd_nxt = 1000;
    s.rcv_nxt = 2000;
    s.mss = 1460;
    s.wscale_ok = true;
    s.snd_wscale = 7;
    s.rcv_wscale = 7;
    s.sack_ok = true;
    s.timestamps_ok = true;
    s.tsval = 12345;
    s.snd_wnd = 65535;
    s.rcv_wnd = 65535;
    return s;
}

TEST(VipAddressErrors, UnknownDevice) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        auto claimed = VipAddress::claim("nosuch0", ipv4(vip), 24);
        ASSERT_FALSE(claimed);
        EXPECT_EQ(claimed.error().message, "can't add 192.0.2.100/24 to nosuch0: No such device");
    });
}

TEST(VipAddressErrors, BadPrefixAndAddress) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        auto bad_prefix = VipAddress::claim("u0", ipv4(vip), 33);
        ASSERT_FALSE(bad_prefix);
        EXPECT_EQ(bad_prefix.error().message,
                  "can't add 192.0.2.100/33 to u0: prefix length must be 1..32");
        auto any = VipAddress::claim("u0", INADDR_ANY, 24);
        ASSERT_FALSE(any);
        expect_one_line(any.error());
    });
}

TEST(VipAddress, ClaimIsExclusiveAndReleaseIsIdempotent) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        auto first = VipAddress::claim("u0", ipv4(vip), 24);
        ASSERT_TRUE(first) << first.error().message;
        auto second = VipAddress::claim("u0", ipv4(vip), 24);
        ASSERT_FALSE(second);
        EXPECT_EQ(second.error().message, "can't add 192.0.2.100/24 to u0: File exists");

        // While claimed, the address is local: binding it needs no IP_TRANSPARENT.
        UniqueFd probe(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in at = test::socket_address(vip, 0);
        EXPECT_EQ(bind(probe.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0)
            << std::strerror(errno);
        probe.reset();

        auto released = first->release();
        ASSERT_TRUE(released) << released.error().message;
        auto again = first->release();
        EXPECT_TRUE(again) << again.error().message;

        // Released for real: the address is no longer local, and it can be claimed again.
        UniqueFd probe2(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        EXPECT_LT(bind(probe2.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0);
        EXPECT_EQ(errno, EADDRNOTAVAIL);
        auto third = VipAddress::claim("u0", ipv4(vip), 24);
        ASSERT_TRUE(third) << third.error().message;
        EXPECT_TRUE(third->release());
    });
}

TEST(GratuitousArpErrors, BadDeviceAndCount) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        auto unknown = send_gratuitous_arp("nosuch0", ipv4(vip));
        ASSERT_FALSE(unknown);
        EXPECT_EQ(unknown.error().message, "can't announce 192.0.2.100 on nosuch0: No such device");
        auto loopback = send_gratuitous_arp("lo", ipv4(vip));
        ASSERT_FALSE(loopback);
        EXPECT_EQ(loopback.error().message, "can't announce 192.0.2.100 on lo: not an Ethernet device");
        auto zero = send_gratuitous_arp("u0", ipv4(vip), 0);
        ASSERT_FALSE(zero);
        expect_one_line(zero.error());
    });
}

TEST(GratuitousArpErrors, AnnouncerOnNonEthernet) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        auto loopback = ArpAnnouncer::open("lo");
        ASSERT_FALSE(loopback);
        EXPECT_EQ(loopback.error().message, "can't open ARP announcer on lo: not an Ethernet device");
        auto announcer = ArpAnnouncer::open("u0");
        ASSERT_TRUE(announcer) << announcer.error().message;
        auto any = announcer->announce(INADDR_ANY);
        ASSERT_FALSE(any);
        EXPECT_EQ(any.error().message, "can't announce 0.0.0.0 on u0: address is 0.0.0.0");
    });
}

TEST(GratuitousArpErrors, InterfaceDown) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        ASSERT_EQ(test::set_link_up("u2", false), "");
        auto down = send_gratuitous_arp("u2", ipv4(vip));
        ASSERT_FALSE(down);
        EXPECT_EQ(down.error().message, "can't announce 192.0.2.100 on u2: send: Network is down");
    });
}

TEST(RebuildConnectionErrors, InvalidStates) {
    struct Case {
        const char* what;
        void (*spoil)(RepairState&);
        const char* message;
    };
    const Case cases[] = {
        {"family", [](RepairState& s) { s.remote.sin_family = AF_INET6; },
         "invalid repair state for 192.0.2.100:7000<-192.0.2.1:40000: addresses must be AF_INET"},
        {"port", [](RepairState& s) { s.local.sin_port = 0; },
         "invalid repair state for 192.0.2.100:0<-192.0.2.1:40000: port is 0"},
        {"mss", [](RepairState& s) { s.mss = 0; },
         "invalid repair state for 192.0.2.100:7000<-192.0.2.1:40000: MSS 0 below 88"},
        {"wscale", [](RepairState& s) { s.snd_wscale = 15; },
         "invalid repair state for 192.0.2.100:7000<-192.0.2.1:40000: window scale 15/7 above 14"},
        {"rcv_wnd", [](RepairState& s) { s.rcv_wnd = 0; },
         "invalid repair state for 192.0.2.100:7000<-192.0.2.1:40000: receive window 0 would "
         "stall the client"},
        {"unscaled window", [](RepairState& s) {
             s.wscale_ok = false, s.snd_wscale = 0, s.rcv_wscale = 0, s.rcv_wnd = 70000;
         },
         "invalid repair state for 192.0.2.100:7000<-192.0.2.1:40000: receive window 70000 too "
         "large for scale 0"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        RepairState s = valid_state();
        c.spoil(s);
        auto rebuilt = rebuild_connection(s, {});
        ASSERT_FALSE(rebuilt) << c.what;
        EXPECT_EQ(rebuilt.error().message, c.message) << c.what;
    }
    EXPECT_TRUE(validate_repair_state(valid_state()));

    // The restored output must be exactly the bytes between snd_una and snd_nxt.
    RepairState s = valid_state();
    s.snd_nxt = s.snd_una + 10;
    const uint8_t five[5] = {};
    auto short_output = rebuild_connection(s, five);
    ASSERT_FALSE(short_output);
    EXPECT_EQ(short_output.error().message,
              "can't rebuild 192.0.2.100:7000<-192.0.2.1:40000: 5 bytes given for the 10 between "
              "snd_una and snd_nxt");
    s.snd_nxt = s.snd_una - 1;  // "before" snd_una: a wrapped, huge distance
    auto behind = rebuild_connection(s, {});
    ASSERT_FALSE(behind);
    expect_one_line(behind.error());
}

TEST(RebuildConnectionErrors, AddressTakenByAnotherConnection) {
    // Two rebuilds of the same 4-tuple: the second must fail in one line, not replace
    // the first. Force reuse lets bind() through; connect() finds the 4-tuple taken and
    // the kernel reports that as EADDRNOTAVAIL.
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        RepairState s = valid_state();
        s.local = test::socket_address("192.0.2.21", 7000);
        s.remote = test::socket_address("192.0.2.22", 40000);
        auto first = rebuild_connection(s, {});
        ASSERT_TRUE(first) << first.error().message;
        auto second = rebuild_connection(s, {});
        ASSERT_FALSE(second);
        EXPECT_EQ(second.error().message,
                  "can't rebuild 192.0.2.21:7000<-192.0.2.22:40000: connect: Cannot assign "
                  "requested address");
        // Not a test of politeness: the rebuilt socket must not reach the peer.
        ASSERT_TRUE(close_silently(std::move(*first)));
    });
}

TEST(SnapshotConnectionErrors, NotAConnectedTcpSocket) {
    const auto ns = unit_ns();
    REQUIRE_NAMESPACE(ns);
    run_in_netns(ns, [] {
        UniqueFd unconnected(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        auto a = snapshot_connection(unconnected.get());
        ASSERT_FALSE(a);
        EXPECT_EQ(a.error().message,
                  fmt::format("can't snapshot socket {}: getpeername: Transport endpoint is not "
                              "connected",
                              unconnected.get()));
        auto b = snapshot_connection(-1);
        ASSERT_FALSE(b);
        expect_one_line(b.error());
    });
}

}  // namespace
}  // namespace tcpfo
