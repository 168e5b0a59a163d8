// The checksum states real segments reach the ingress hook with. A test run's skb is
// always CHECKSUM_NONE; here frames go through a tap device with a virtio-net header
// (IFF_VNET_HDR), as a guest's NIC gets them from its host: the NEEDS_CSUM flag makes
// the kernel mark the skb CHECKSUM_PARTIAL (an offloading sender's segment, whose
// checksum field holds only the pseudo-header's sum: TCP takes it), no flag leaves it
// CHECKSUM_NONE (TCP checks the full checksum). The hooks must agree with TCP on both.
//
//   ns tcpfo-bk-PID:  tap tfckPID [tc ingress/egress: snoop]  ◄── frames the test writes
//
// The handshake that makes the connection protected goes through BPF_PROG_TEST_RUN of
// the same loaded programs (same maps); no address is configured, so after the hook
// the stack drops every frame.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "frame_builder.h"
#include "netns_util.h"
#include "snoop_fixture.h"

namespace tcpfo::test {
namespace {

using Clock = std::chrono::steady_clock;

// struct virtio_net_hdr and VIRTIO_NET_HDR_F_NEEDS_CSUM of <linux/virtio_net.h>, which
// C++ cannot include (a member named `class`). Native byte order: a legacy header on a
// little-endian host, as the tap reads it.
struct VirtioNetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
};
static_assert(sizeof(VirtioNetHdr) == 10);
constexpr uint8_t kVirtioNeedsCsum = 1;

struct DataEvent {
    uint32_t seq;
    std::vector<uint8_t> payload;
};

class SnoopChecksumStateTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, tun, tc)";
        if (access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/net/tun";
        std::string pid = std::to_string(getpid());
        ns_ = "tcpfo-bk-" + pid;
        dev_ = "tfck" + pid;
        ASSERT_TRUE(sh("ip netns add " + ns_));
        created_ = true;
        InNetns in(ns_);
        ASSERT_TRUE(in.ok());
        // Created from inside the namespace: the device lives there.
        tap_ = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ASSERT_GE(tap_, 0) << strerror(errno);
        ifreq ifr{};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        std::strncpy(ifr.ifr_name, dev_.c_str(), IFNAMSIZ - 1);
        ASSERT_EQ(ioctl(tap_, TUNSETIFF, &ifr), 0) << strerror(errno);
        ASSERT_TRUE(sh(fmt::format("ip -n {} link set {} up", ns_, dev_)));
        auto attached = BpfSnoop::attach({dev_, vip_, kVipPort});
        ASSERT_TRUE(attached) << attached.error().message;
        snoop_ = std::move(*attached);
    }
    void TearDown() override {
        snoop_.reset();  // detach before the device goes away
        if (tap_ >= 0) close(tap_);
        if (created_) sh("ip netns del " + ns_);
    }

    TcpSegmentSpec from_client(uint32_t seq, uint32_t ack, uint8_t flags) const {
        TcpSegmentSpec s;
        s.src_addr = client_;
        s.dst_addr = vip_;
        s.src_port = kClientPort;
        s.dst_port = kVipPort;
        s.seq = seq;
        s.ack = ack;
        s.flags = flags;
        return s;
    }

    // SYN and SYN-ACK through test runs: the connection is protected from then on.
    void handshake() {
        EXPECT_EQ(run_prog(snoop_->ingress_prog_fd(), build_frame(from_client(1000, 0, kSyn))).verdict, kTcActOk);
        TcpSegmentSpec synack = from_client(9000, 1001, kSyn | kAck);
        std::swap(synack.src_addr, synack.dst_addr);
        std::swap(synack.src_port, synack.dst_port);
        synack.window = 65535;
        EXPECT_EQ(run_prog(snoop_->egress_prog_fd(), build_frame(synack)).verdict, kTcActOk);
        size_t opens = 0;
        ASSERT_TRUE(snoop_->drain([&](const tcpfo_event& ev, std::span<const uint8_t>) {
            opens += ev.type == TCPFO_EV_CONN_OPEN;
        }));
        ASSERT_EQ(opens, 1u);
    }

    // Writes the frame into the tap behind a virtio-net header.
    void inject(const std::vector<uint8_t>& frame, bool needs_csum) {
        VirtioNetHdr vh{};
        if (needs_csum) {
            vh.flags = kVirtioNeedsCsum;
            vh.csum_start = kTcpOffset;  // from the Ethernet header
            vh.csum_offset = 16;         // the TCP checksum field
        }
        iovec iov[2] = {{&vh, sizeof(vh)}, {const_cast<uint8_t*>(frame.data()), frame.size()}};
        ASSERT_EQ(writev(tap_, iov, 2), static_cast<ssize_t>(sizeof(vh) + frame.size())) << strerror(errno);
    }

    // DATA events until `want` of them arrived and data_refused reached `refused`, or 5 s.
    std::vector<DataEvent> collect(size_t want, uint64_t refused) {
        std::vector<DataEvent> got;
        auto deadline = Clock::now() + std::chrono::seconds(5);
        while (Clock::now() < deadline && (got.size() < want || snoop_->stats().data_refused < refused)) {
            pollfd p{snoop_->event_fd(), POLLIN, 0};
            poll(&p, 1, 20);
            auto n = snoop_->drain([&](const tcpfo_event& ev, std::span<const uint8_t> payload) {
                if (ev.type == TCPFO_EV_DATA) got.push_back({ev.seq, {payload.begin(), payload.end()}});
            });
            EXPECT_TRUE(n) << n.error().message;
        }
        return got;
    }

    uint32_t vip_ = addr("192.0.2.100");
    uint32_t client_ = addr("192.0.2.1");
    std::string ns_, dev_;
    bool created_ = false;
    int tap_ = -1;
    std::unique_ptr<BpfSnoop> snoop_;
};

TEST_F(SnoopChecksumStateTest, PartialIsTakenAFullChecksumIsChecked) {
    handshake();

    // CHECKSUM_NONE with a wrong checksum: TCP drops it, the hook must not report it.
    TcpSegmentSpec forged = from_client(1001, 9001, kAck | kPsh);
    forged.payload = std::vector<uint8_t>(300, 'A');
    auto bad = build_frame(forged);
    bad[kTcpOffset + 16] ^= 0x55;
    inject(bad, false);

    // CHECKSUM_PARTIAL: the same offsets, no full checksum in the field, taken by TCP.
    TcpSegmentSpec offloaded = from_client(1001, 9001, kAck | kPsh);
    offloaded.payload = std::vector<uint8_t>(300, 'B');
    auto partial = build_frame(offloaded);
    set_partial_checksum(partial);
    ASSERT_FALSE(checksums_valid(partial)) << "the test needs a field that is not a full checksum";
    inject(partial, true);

    // CHECKSUM_NONE with a right checksum: taken.
    TcpSegmentSpec plain = from_client(1301, 9001, kAck | kPsh);
    plain.payload = std::vector<uint8_t>(201, 'C');
    inject(build_frame(plain), false);

    auto got = collect(2, 1);
    ASSERT_EQ(got.size(), 2u) << "a segment TCP takes was not reported";
    std::sort(got.begin(), got.end(), [](const DataEvent& a, const DataEvent& b) { return a.seq < b.seq; });
    EXPECT_EQ(got[0].seq, 1001u);
    EXPECT_EQ(got[0].payload, offloaded.payload) << "the CHECKSUM_PARTIAL segment, not the forged one";
    EXPECT_EQ(got[1].seq, 1301u);
    EXPECT_EQ(got[1].payload, plain.payload);
    EXPECT_EQ(snoop_->stats().data_refused, 1u);
}

}  // namespace
}  // namespace tcpfo::test
