// BPF_PROG_TEST_RUN tests of the takeover side of tcpfo_ingress (bpf/snoop.bpf.c): the
// hold (client segments of a connection whose socket is not rebuilt yet are dropped
// and recorded) and takeover mode (segments no socket would take are dropped rather
// than answered with a RST).
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "frame_builder.h"
#include "snoop_fixture.h"
#include "userd/base/unique_fd.h"

namespace tcpfo::test {
namespace {

class SnoopHoldTest : public SnoopFixture {
protected:
    int ingress(const TcpSegmentSpec& s) { return run_prog(snoop_->ingress_prog_fd(), build_frame(s)).verdict; }

    tcpfo_held_client record(uint16_t port = kClientPort) {
        auto r = snoop_->held(key(port));
        EXPECT_TRUE(r) << r.error().message;
        return r ? *r : tcpfo_held_client{};
    }
};

TEST_F(SnoopHoldTest, HeldConnectionIsDroppedAndRecorded) {
    ASSERT_TRUE(snoop_->hold(key()));
    tcpfo_held_client r = record();
    EXPECT_EQ(r.segments, 0u);
    EXPECT_EQ(r.pure_acks, 0u);
    EXPECT_EQ(r.flags, 0);

    // The client's data segment (its retransmission of bytes the backup lacks).
    TcpSegmentSpec data = from_client(5000, 9000, kAck | kPsh);
    data.window = 501;
    data.options = concat({opt_nops(2), opt_timestamps(700, 300)});
    data.payload = std::vector<uint8_t>(1448, 0x33);
    EXPECT_EQ(ingress(data), kTcActShot) << "a held connection's segment must never reach the stack";
    r = record();
    EXPECT_EQ(r.segments, 1u);
    EXPECT_EQ(r.pure_acks, 0u);
    EXPECT_EQ(r.snd_nxt, 5000u + 1448);
    EXPECT_EQ(r.ack, 9000u);
    EXPECT_EQ(r.window, 501);
    EXPECT_EQ(r.tsval, 700u);
    EXPECT_EQ(r.tsecr, 300u);
    EXPECT_EQ(r.data_seq, 5000u);
    EXPECT_EQ(r.data_len, 1448u);
    EXPECT_EQ(r.flags, TCPFO_HELD_SEQ | TCPFO_HELD_ACK | TCPFO_HELD_TS);
    EXPECT_NE(r.last_ns, 0u);

    // Its answer to a probe: a pure ACK at snd_nxt, ACK = rcv_nxt, with a D-SACK block.
    TcpSegmentSpec dupack = from_client(5000 + 1448, 9100, kAck);
    dupack.window = 502;
    dupack.options = concat({opt_nops(2), opt_timestamps(701, 301), opt_nops(2), opt_sack({{8000, 8001}})});
    EXPECT_EQ(ingress(dupack), kTcActShot);
    r = record();
    EXPECT_EQ(r.segments, 2u);
    EXPECT_EQ(r.pure_acks, 1u);
    EXPECT_EQ(r.snd_nxt, 5000u + 1448);
    EXPECT_EQ(r.ack, 9100u);
    EXPECT_EQ(r.window, 502);
    EXPECT_EQ(r.tsval, 701u);
    EXPECT_EQ(r.data_len, 1448u) << "the last data segment still ends at snd_nxt";
    EXPECT_EQ(r.flags, TCPFO_HELD_SEQ | TCPFO_HELD_ACK | TCPFO_HELD_TS | TCPFO_HELD_SACK);

    // An older retransmission and an older ACK move nothing back.
    TcpSegmentSpec old = from_client(3000, 8000, kAck);
    old.payload = std::vector<uint8_t>(100, 1);
    EXPECT_EQ(ingress(old), kTcActShot);
    r = record();
    EXPECT_EQ(r.segments, 3u);
    EXPECT_EQ(r.snd_nxt, 5000u + 1448);
    EXPECT_EQ(r.ack, 9100u);
    EXPECT_EQ(r.data_seq, 5000u);

    // A pure ACK beyond the data seen: the client sent more than the hook saw.
    EXPECT_EQ(ingress(from_client(7000, 9100, kAck)), kTcActShot);
    r = record();
    EXPECT_EQ(r.snd_nxt, 7000u);
    EXPECT_EQ(r.data_len, 0u) << "no data segment seen ends at snd_nxt";

    // FIN counts one sequence number; RST is recorded (and dropped: no socket yet).
    TcpSegmentSpec fin = from_client(7000, 9100, kAck | kFin);
    fin.payload = {1, 2, 3};
    EXPECT_EQ(ingress(fin), kTcActShot);
    EXPECT_EQ(ingress(from_client(7004, 9100, kRst | kAck)), kTcActShot);
    r = record();
    EXPECT_EQ(r.snd_nxt, 7004u);
    EXPECT_EQ(r.pure_acks, 2u) << "FIN and RST are not pure ACKs";
    EXPECT_EQ(r.data_seq, 7000u);
    EXPECT_EQ(r.data_len, 3u);
    EXPECT_TRUE(r.flags & TCPFO_HELD_FIN);
    EXPECT_TRUE(r.flags & TCPFO_HELD_RST);
    EXPECT_EQ(snoop_->stats().held_dropped, 6u);

    // Holding again keeps the record.
    ASSERT_TRUE(snoop_->hold(key()));
    EXPECT_EQ(record().segments, 6u);
}

TEST_F(SnoopHoldTest, SequencesAreComparedAcrossTheWrap) {
    ASSERT_TRUE(snoop_->hold(key()));
    TcpSegmentSpec data = from_client(0xfffffff0, 0xfffffffe, kAck);
    data.payload = std::vector<uint8_t>(0x20, 7);
    EXPECT_EQ(ingress(data), kTcActShot);
    EXPECT_EQ(record().snd_nxt, 0x10u);
    EXPECT_EQ(ingress(from_client(0xfffffff8, 0x00000005, kAck)), kTcActShot);
    tcpfo_held_client r = record();
    EXPECT_EQ(r.snd_nxt, 0x10u) << "0xfffffff8 is before 0x10";
    EXPECT_EQ(r.ack, 0x5u) << "0x5 is after 0xfffffffe";
}

TEST_F(SnoopHoldTest, ReleaseOrRebuiltLetsSegmentsThrough) {
    ASSERT_TRUE(snoop_->hold(key()));
    ASSERT_TRUE(snoop_->hold(key(kClientPort + 1)));
    // Another connection, not held, is not touched.
    EXPECT_EQ(ingress(from_client(100, 200, kAck, kClientPort + 2)), kTcActOk);
    EXPECT_FALSE(snoop_->held(key(kClientPort + 2)));

    // Rebuilt: passes, and the record goes on.
    EXPECT_EQ(ingress(from_client(100, 200, kAck)), kTcActShot);
    ASSERT_TRUE(snoop_->mark_rebuilt(key()));
    EXPECT_EQ(ingress(from_client(100, 250, kAck)), kTcActOk);
    tcpfo_held_client r = record();
    EXPECT_EQ(r.segments, 2u);
    EXPECT_EQ(r.ack, 250u);

    // Released: passes, no record.
    snoop_->release(key(kClientPort + 1));
    EXPECT_FALSE(snoop_->held(key(kClientPort + 1)));
    EXPECT_EQ(ingress(from_client(100, 200, kAck, kClientPort + 1)), kTcActOk);

    // forget() ends a hold too.
    ASSERT_TRUE(snoop_->hold(key(kClientPort + 3)));
    snoop_->forget(key(kClientPort + 3));
    EXPECT_FALSE(snoop_->held(key(kClientPort + 3)));
    EXPECT_EQ(snoop_->stats().held_dropped, 1u);
}

TEST_F(SnoopHoldTest, ReleaseAllEndsEveryHoldAndSkipsKeysNotHeld) {
    // Keys not held (first, middle, last) must not stop the batch short.
    std::vector<tcpfo_conn_key> keys;
    for (uint16_t i = 0; i < 9; ++i) {
        keys.push_back(key(uint16_t(kClientPort + i)));
        if (i % 4 != 0) {
            ASSERT_TRUE(snoop_->hold(keys.back()));
        }
    }
    ASSERT_TRUE(snoop_->hold(key(kClientPort + 20)));  // not in the list: stays held
    snoop_->release_all(keys);
    for (const auto& k : keys) EXPECT_FALSE(snoop_->held(k)) << ntohs(k.client_port);
    EXPECT_TRUE(snoop_->held(key(kClientPort + 20)));
    snoop_->release_all({});
    EXPECT_EQ(ingress(from_client(100, 200, kAck, kClientPort + 1)), kTcActOk);
}

TEST_F(SnoopHoldTest, AllHeldReplacesWhatTheBufferHeld) {
    Hooks::HeldRecords buffer(5);  // stale entries from an earlier read
    ASSERT_TRUE(snoop_->all_held(buffer));
    EXPECT_TRUE(buffer.empty());
    for (uint16_t i = 0; i < 3; ++i) ASSERT_TRUE(snoop_->hold(key(uint16_t(kClientPort + i))));
    EXPECT_EQ(ingress(from_client(100, 200, kAck, kClientPort + 1)), kTcActShot);
    ASSERT_TRUE(snoop_->all_held(buffer));
    ASSERT_EQ(buffer.size(), 3u);
    std::vector<uint16_t> ports;
    for (const auto& [k, record] : buffer) {
        ports.push_back(ntohs(k.client_port));
        EXPECT_EQ(record.segments, k.client_port == htons(kClientPort + 1) ? 1u : 0u);
    }
    std::sort(ports.begin(), ports.end());
    EXPECT_EQ(ports, (std::vector<uint16_t>{kClientPort, kClientPort + 1, kClientPort + 2}));
    snoop_->release(key(kClientPort + 1));
    ASSERT_TRUE(snoop_->all_held(buffer));
    EXPECT_EQ(buffer.size(), 2u);
}

TEST_F(SnoopHoldTest, HoldTableIsBoundedLikeTheOthers) {
    uint32_t held = 0;
    for (uint32_t i = 0; i < TCPFO_MAX_CONNS; i++) {
        tcpfo_conn_key k{htonl(0xc6120000 + i), vip_, htons(1000 + (i & 0x3fff)), htons(kVipPort)};
        if (!snoop_->hold(k)) break;
        held++;
    }
    EXPECT_EQ(held, uint32_t(TCPFO_MAX_CONNS));
    auto full = snoop_->hold(key());
    ASSERT_FALSE(full) << "a full table must be an error, not a silent success";
    EXPECT_NE(full.error().message.find("can't hold conn - 192.0.2.1:40000"), std::string::npos)
        << full.error().message;
}

TEST_F(SnoopHoldTest, TakeoverModeDropsSegmentsOfUnknownConnections) {
    // A connection the hooks protect (conns), one rebuilt, one held, one unknown.
    TcpSegmentSpec syn = from_client(1000, 0, kSyn, kClientPort + 1);
    syn.options = concat({opt_mss(1460), opt_sack_perm()});
    EXPECT_EQ(ingress(syn), kTcActOk);
    const TcpSegmentSpec synack = from_server(9000, 1001, kSyn | kAck, kClientPort + 1);
    EXPECT_EQ(run_prog(snoop_->egress_prog_fd(), build_frame(synack)).verdict, kTcActOk);
    ASSERT_TRUE(snoop_->conn_state(key(kClientPort + 1)));
    ASSERT_TRUE(snoop_->mark_rebuilt(key(kClientPort + 2)));
    ASSERT_TRUE(snoop_->hold(key(kClientPort + 3)));

    EXPECT_FALSE(snoop_->takeover_mode());
    EXPECT_EQ(ingress(from_client(1, 2, kAck)), kTcActOk) << "not in takeover mode: untouched";

    snoop_->set_takeover_mode(true);
    EXPECT_TRUE(snoop_->takeover_mode());
    EXPECT_EQ(ingress(from_client(1, 2, kAck)), kTcActShot) << "unknown: a listener would reset it";
    TcpSegmentSpec data = from_client(1, 2, kAck | kPsh);
    data.payload = {1, 2, 3};
    EXPECT_EQ(ingress(data), kTcActShot);
    EXPECT_EQ(ingress(from_client(1, 2, kFin | kAck)), kTcActShot);
    EXPECT_EQ(ingress(from_client(1, 0, kSyn)), kTcActOk) << "a SYN meets the listener, never a reset";
    EXPECT_EQ(ingress(from_client(1001, 9001, kAck, kClientPort + 1)), kTcActOk) << "protected";
    EXPECT_EQ(ingress(from_client(1, 2, kAck, kClientPort + 2)), kTcActOk) << "rebuilt";
    EXPECT_EQ(ingress(from_client(1, 2, kAck, kClientPort + 3)), kTcActShot) << "held";
    HookStats st = snoop_->stats();
    EXPECT_EQ(st.takeover_dropped, 3u);
    EXPECT_EQ(st.held_dropped, 1u);
    // Other services are never touched.
    TcpSegmentSpec other = from_client(1, 2, kAck);
    other.dst_port = kVipPort + 1;
    EXPECT_EQ(ingress(other), kTcActOk);

    snoop_->set_takeover_mode(false);
    EXPECT_EQ(ingress(from_client(1, 2, kAck)), kTcActOk);
}

// Runs fn in a thread inside a fresh network namespace with lo up: the programs'
// socket lookups (and BPF_PROG_TEST_RUN's skb) then belong to that namespace.
void in_fresh_netns(const std::function<void()>& fn) {
    std::string error;
    std::thread worker([&] {
        if (unshare(CLONE_NEWNET) != 0) {
            error = std::string("unshare(CLONE_NEWNET): ") + strerror(errno);
            return;
        }
        UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        if (ioctl(fd.get(), SIOCGIFFLAGS, &ifr) != 0) {
            error = std::string("SIOCGIFFLAGS lo: ") + strerror(errno);
            return;
        }
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd.get(), SIOCSIFFLAGS, &ifr) != 0) {
            error = std::string("SIOCSIFFLAGS lo: ") + strerror(errno);
            return;
        }
        fn();
    });
    worker.join();
    ASSERT_EQ(error, "");
}

uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

// "Known" includes the stack's own sockets: a connection that is established (a
// rebuilt socket not marked yet) passes; one only a listener would see does not.
TEST(SnoopTakeoverMode, SegmentsOfLocalSocketsPassListenerOnlyOnesDoNot) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, BPF)";
    in_fresh_netns([] {
        const uint32_t lo = addr("127.0.0.1");
        UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_addr.s_addr = lo;
        ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0);
        ASSERT_EQ(listen(listener.get(), 4), 0);
        const uint16_t port = local_port(listener.get());
        UniqueFd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        at.sin_port = htons(port);
        ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)), 0);
        UniqueFd server(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        ASSERT_TRUE(server);

        auto loaded = BpfSnoop::load({"", lo, port});
        ASSERT_TRUE(loaded) << loaded.error().message;
        std::unique_ptr<BpfSnoop> snoop = std::move(*loaded);
        snoop->set_takeover_mode(true);

        TcpSegmentSpec seg;
        seg.src_addr = lo;
        seg.dst_addr = lo;
        seg.src_port = local_port(client.get());
        seg.dst_port = port;
        seg.seq = 1;
        seg.ack = 1;
        EXPECT_EQ(run_prog(snoop->ingress_prog_fd(), build_frame(seg)).verdict, kTcActOk)
            << "an established socket takes it";
        seg.src_port = static_cast<uint16_t>(seg.src_port == 65535 ? 1024 : seg.src_port + 1);
        EXPECT_EQ(run_prog(snoop->ingress_prog_fd(), build_frame(seg)).verdict, kTcActShot)
            << "only the listener would see it, and answer with a RST";
        EXPECT_EQ(snoop->stats().takeover_dropped, 1u);
    });
}

}  // namespace
}  // namespace tcpfo::test
