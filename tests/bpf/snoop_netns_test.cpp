// The snoop attached for real: two network namespaces joined by a veth pair, the hooks
// on the server side, a real TCP connection uploading several MiB. The test plays
// failoverd: it logs the DATA events by sequence number, raises the stable point only
// to the end of the contiguous log, and nudges the client (raw socket, SO_MARK) when it
// moves. It checks that the stream arrives byte-exact, that the log equals it, and that
// the client never had more acknowledged than the stable point allowed.
//
//   ns tcpfo-bc-PID                      ns tcpfo-bs-PID
//   client 192.0.2.1  ── tfbcPID ═ tfbsPID ── 192.0.2.100:7000 (VIP)
//                                          [tc ingress/egress: snoop]
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "userd/hooks/bpf_snoop.h"
#include "frame_builder.h"
#include "netns_util.h"

namespace tcpfo::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint16_t kPort = 7000;

class SnoopNetnsTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, tc)";
        std::string pid = std::to_string(getpid());
        server_ns_ = "tcpfo-bs-" + pid;
        client_ns_ = "tcpfo-bc-" + pid;
        server_dev_ = "tfbs" + pid;
        std::string client_dev = "tfbc" + pid;
        created_ = true;
        ASSERT_TRUE(sh("ip netns add " + server_ns_));
        ASSERT_TRUE(sh("ip netns add " + client_ns_));
        ASSERT_TRUE(sh(fmt::format("ip -n {} link add {} type veth peer name {} netns {}", server_ns_, server_dev_,
                                   client_dev, client_ns_)));
        ASSERT_TRUE(sh(fmt::format("ip -n {} addr add 192.0.2.100/24 dev {}", server_ns_, server_dev_)));
        ASSERT_TRUE(sh(fmt::format("ip -n {} addr add 192.0.2.1/24 dev {}", client_ns_, client_dev)));
        for (const auto& [ns, dev] : {std::pair{server_ns_, server_dev_}, std::pair{client_ns_, client_dev}}) {
            ASSERT_TRUE(sh(fmt::format("ip -n {} link set {} up", ns, dev)));
            ASSERT_TRUE(sh(fmt::format("ip -n {} link set lo up", ns)));
        }
    }
    void TearDown() override {
        snoop_.reset();  // detach before the interface goes away
        if (created_) {
            sh("ip netns del " + server_ns_);
            sh("ip netns del " + client_ns_);
        }
    }

    std::string server_ns_, client_ns_, server_dev_;
    bool created_ = false;
    std::unique_ptr<BpfSnoop> snoop_;
};

uint8_t pattern_byte(size_t i) { return static_cast<uint8_t>((i * 131 + (i >> 11)) & 0xff); }

// failoverd's nudge, as the test's own: an ACK that looks like the server's last segment.
bool send_nudge(int raw_fd, const tcpfo_conn_key& key, const tcpfo_conn_state& st, uint32_t ack) {
    TcpSegmentSpec s;
    s.src_addr = key.vip_addr;
    s.dst_addr = key.client_addr;
    s.src_port = ntohs(key.vip_port);
    s.dst_port = ntohs(key.client_port);
    s.seq = st.snd_nxt;
    s.ack = ack;
    s.flags = kAck;
    s.window = st.last_window;
    if (st.client_opts.present & st.server_opts.present & TCPFO_OPT_TIMESTAMPS)
        s.options = concat({opt_nops(2), opt_timestamps(st.last_tsval, st.last_tsecr)});
    std::vector<uint8_t> frame = build_frame(s);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = key.client_addr;
    return sendto(raw_fd, frame.data() + kTcpOffset - 20 + 20, frame.size() - kTcpOffset, 0,
                  reinterpret_cast<sockaddr*>(&to), sizeof(to)) == static_cast<ssize_t>(frame.size() - kTcpOffset);
}

uint64_t client_bytes_acked(int fd) {
    tcp_info info{};
    socklen_t len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return ~0ull;
    return info.tcpi_bytes_acked;
}

TEST_F(SnoopNetnsTest, UploadIsLoggedAndClampedToTheStablePoint) {
    constexpr size_t kTotal = 8u << 20;
    const in_addr_t vip = inet_addr("192.0.2.100");
    int listener = -1, raw = -1, client = -1;
    {
        InNetns in(server_ns_);
        ASSERT_TRUE(in.ok());
        auto attached = BpfSnoop::attach({server_dev_, vip, kPort});
        ASSERT_TRUE(attached) << attached.error().message;
        snoop_ = std::move(*attached);
        listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(kPort);
        addr.sin_addr.s_addr = vip;
        ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
        ASSERT_EQ(listen(listener, 8), 0);
        raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
        ASSERT_GE(raw, 0);
        int mark = TCPFO_NUDGE_MARK;
        ASSERT_EQ(setsockopt(raw, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
        sockaddr_in bind_vip{};
        bind_vip.sin_family = AF_INET;
        bind_vip.sin_addr.s_addr = vip;
        ASSERT_EQ(bind(raw, reinterpret_cast<sockaddr*>(&bind_vip), sizeof(bind_vip)), 0);
    }
    {
        InNetns in(client_ns_);
        ASSERT_TRUE(in.ok());
        client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(kPort);
        addr.sin_addr.s_addr = vip;
        ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << strerror(errno);
    }
    int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(server, 0);

    // The handshake gave exactly one CONN_OPEN for this connection.
    std::vector<tcpfo_event> opens;
    ASSERT_TRUE(snoop_->drain([&](const tcpfo_event& ev, std::span<const uint8_t>) {
        if (ev.type == TCPFO_EV_CONN_OPEN) opens.push_back(ev);
    }));
    ASSERT_EQ(opens.size(), 1u);
    const tcpfo_conn_key key = opens[0].key;
    const uint32_t base = opens[0].client_isn + 1;  // sequence number of the first client byte
    EXPECT_NE(opens[0].client_opts.present & TCPFO_OPT_TIMESTAMPS, 0);
    EXPECT_NE(opens[0].server_opts.present & TCPFO_OPT_WSCALE, 0);

    std::atomic<bool> stop{false};
    std::atomic<size_t> server_got{0};
    std::atomic<bool> server_exact{true};
    std::thread reader([&] {
        std::vector<uint8_t> buf(1 << 16);
        while (!stop) {
            pollfd p{server, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            ssize_t n = read(server, buf.data(), buf.size());
            if (n <= 0) break;
            size_t at = server_got;
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != pattern_byte(at + i)) server_exact = false;
            server_got += n;
        }
    });

    // Phase 1: the stable point stays at the start. The server's kernel takes the bytes,
    // but the client must not see any of them acknowledged.
    std::vector<uint8_t> first(20000);
    for (size_t i = 0; i < first.size(); i++) first[i] = pattern_byte(i);
    ASSERT_EQ(write(client, first.data(), first.size()), static_cast<ssize_t>(first.size()));
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (server_got < 10000 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GE(server_got.load(), 10000u) << "the server never received the first bytes";
    int outq = -1;
    ASSERT_EQ(ioctl(client, SIOCOUTQ, &outq), 0);
    EXPECT_EQ(outq, static_cast<int>(first.size())) << "the client saw bytes acknowledged above the stable point";
    EXPECT_LE(client_bytes_acked(client), 1u);

    // Phase 2: play failoverd. Log DATA by sequence, raise the stable point to the end
    // of the contiguous log, nudge. The writer sends the rest and closes.
    std::thread writer([&] {
        std::vector<uint8_t> chunk(1 << 16);
        size_t sent = first.size();
        while (sent < kTotal && !stop) {
            size_t n = std::min(chunk.size(), kTotal - sent);
            for (size_t i = 0; i < n; i++) chunk[i] = pattern_byte(sent + i);
            ssize_t w = write(client, chunk.data(), n);
            if (w <= 0) return;
            sent += w;
        }
        shutdown(client, SHUT_WR);
    });

    std::vector<uint8_t> log(kTotal, 0);
    std::vector<bool> have(kTotal, false);
    size_t contiguous = 0, data_events = 0;
    bool client_fin = false;
    uint32_t fin_seq = 0;
    uint32_t stable_off = 0;
    size_t nudges = 0;
    bool acked_beyond_stable = false;
    deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline && !(client_fin && contiguous == kTotal && server_got == kTotal)) {
        pollfd p{snoop_->event_fd(), POLLIN, 0};
        poll(&p, 1, 50);
        auto drained = snoop_->drain([&](const tcpfo_event& ev, std::span<const uint8_t> payload) {
            if (memcmp(&ev.key, &key, sizeof(key)) != 0) return;
            if (ev.type == TCPFO_EV_DATA) {
                data_events++;
                size_t off = static_cast<uint32_t>(ev.seq - base);
                for (size_t i = 0; i < payload.size() && off + i < kTotal; i++) {
                    log[off + i] = payload[i];
                    have[off + i] = true;
                }
            } else if (ev.type == TCPFO_EV_CLIENT_FIN) {
                client_fin = true;
                fin_seq = ev.seq;
            }
        });
        ASSERT_TRUE(drained) << drained.error().message;
        while (contiguous < kTotal && have[contiguous]) contiguous++;
        uint32_t want = static_cast<uint32_t>(contiguous) + (client_fin && contiguous == kTotal ? 1 : 0);
        if (want != stable_off) {
            stable_off = want;
            ASSERT_TRUE(snoop_->set_stable(key, base + stable_off));
        }
        // Nudge when the client may acknowledge more: up to the stable point, but never
        // above what the server's stack itself acknowledged.
        auto st = snoop_->conn_state(key);
        auto server_ack = snoop_->server_ack(key);
        ASSERT_TRUE(st && server_ack);
        uint32_t nudge = static_cast<int32_t>(*server_ack - (base + stable_off)) < 0 ? *server_ack : base + stable_off;
        if (static_cast<int32_t>(nudge - st->last_sent_ack) > 0) {
            EXPECT_TRUE(send_nudge(raw, key, *st, nudge)) << strerror(errno);
            nudges++;
        }
        // SYN and FIN count one each in bytes_acked; data bytes must stay within the log.
        if (client_bytes_acked(client) > uint64_t(stable_off) + 1) acked_beyond_stable = true;
    }
    if (!(client_fin && contiguous == kTotal && server_got == kTotal)) {
        int q = -1;
        ioctl(client, SIOCOUTQ, &q);
        ADD_FAILURE() << fmt::format("stalled: logged {} contiguous, server read {}, client FIN {}, stable +{}, "
                                     "client outq {}, bytes acked {}",
                                     contiguous, server_got.load(), client_fin, stable_off, q, client_bytes_acked(client));
        shutdown(client, SHUT_RDWR);  // unblocks the writer
    }
    stop = true;
    writer.join();
    reader.join();

    EXPECT_FALSE(acked_beyond_stable) << "the client saw an ACK above the stable point";
    EXPECT_EQ(contiguous, kTotal) << "the event log is incomplete";
    EXPECT_EQ(server_got.load(), kTotal);
    EXPECT_TRUE(server_exact.load()) << "the server received corrupted bytes";
    bool log_exact = true;
    for (size_t i = 0; i < kTotal && log_exact; i++) log_exact = log[i] == pattern_byte(i);
    EXPECT_TRUE(log_exact) << "the logged payload differs from what the client sent";
    EXPECT_TRUE(client_fin);
    EXPECT_EQ(fin_seq, base + static_cast<uint32_t>(kTotal));

    // Everything, FIN included, acknowledged in the end.
    deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline && ioctl(client, SIOCOUTQ, &outq) == 0 && outq != 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(outq, 0);

    HookStats s = snoop_->stats();
    EXPECT_GT(s.acks_clamped, 0u);
    EXPECT_EQ(s.ring_drops, 0u);
    EXPECT_GE(s.events, data_events + 2);
    // A local sender's segments cross the veth as CHECKSUM_PARTIAL, with no full
    // checksum in them: the hooks must take them as TCP does.
    EXPECT_EQ(s.data_refused, 0u);
    fmt::print("upload {} MiB: {} DATA events, {} nudges, {} ACKs clamped, {} dup ACKs dropped, {} ring drops\n",
               kTotal >> 20, data_events, nudges, s.acks_clamped, s.dup_acks_dropped, s.ring_drops);

    close(client);
    close(server);
    close(listener);
    close(raw);

    // Destroying the snoop (from outside the namespace) removes both filters.
    snoop_.reset();
    EXPECT_EQ(command_output(fmt::format("ip netns exec {} tc filter show dev {} ingress", server_ns_, server_dev_)), "");
    EXPECT_EQ(command_output(fmt::format("ip netns exec {} tc filter show dev {} egress", server_ns_, server_dev_)), "");
}

}  // namespace
}  // namespace tcpfo::test
