// BPF_PROG_TEST_RUN tests of bpf/snoop.bpf.c: the programs are loaded (not attached)
// through BpfSnoop and fed crafted frames; the results are checked from the frames
// the programs return, the events they emit and the state they keep.
#include <arpa/inet.h>

#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "frame_builder.h"
#include "replay/output_digest.h"
#include "snoop_fixture.h"

namespace tcpfo::test {
namespace {

struct RecordedEvent {
    tcpfo_event ev;
    std::vector<uint8_t> payload;
};

class SnoopProgTest : public SnoopFixture {
protected:
    RunResult ingress(const TcpSegmentSpec& s) { return run_prog(snoop_->ingress_prog_fd(), build_frame(s)); }
    RunResult egress(const TcpSegmentSpec& s, uint32_t mark = 0) {
        return run_prog(snoop_->egress_prog_fd(), build_frame(s), mark);
    }

    std::vector<RecordedEvent> drain() {
        std::vector<RecordedEvent> got;
        auto n = snoop_->drain([&](const tcpfo_event& ev, std::span<const uint8_t> payload) {
            got.push_back({ev, {payload.begin(), payload.end()}});
        });
        EXPECT_TRUE(n) << n.error().message;
        return got;
    }

    // SYN then SYN-ACK with options on both sides; returns the CONN_OPEN events.
    std::vector<RecordedEvent> handshake(uint32_t client_isn, uint32_t server_isn) {
        client_isn_ = client_isn;
        server_isn_ = server_isn;
        TcpSegmentSpec syn = from_client(client_isn, 0, kSyn);
        syn.window = 64240;
        syn.options = concat({opt_mss(1460), opt_sack_perm(), opt_timestamps(1000, 0), opt_nops(1), opt_wscale(7)});
        EXPECT_EQ(ingress(syn).verdict, kTcActOk);

        TcpSegmentSpec synack = from_server(server_isn, client_isn + 1, kSyn | kAck);
        synack.window = 65160;
        synack.options = concat({opt_mss(1400), opt_sack_perm(), opt_timestamps(5000, 1000), opt_nops(1), opt_wscale(9)});
        auto frame = build_frame(synack);
        RunResult out = run_prog(snoop_->egress_prog_fd(), frame);
        EXPECT_EQ(out.verdict, kTcActOk);
        EXPECT_EQ(out.frame, frame) << "the SYN-ACK must never be modified";
        return drain();
    }

    uint32_t client_isn_ = 0, server_isn_ = 0;
};

TEST_F(SnoopProgTest, HandshakeOpensConnectionWithIsnsOptionsAndStablePoint) {
    auto events = handshake(0x11223344, 0xa0b0c0d0);
    ASSERT_EQ(events.size(), 1u);
    const tcpfo_event& ev = events[0].ev;
    EXPECT_EQ(ev.type, TCPFO_EV_CONN_OPEN);
    EXPECT_EQ(ev.client_isn, 0x11223344u);
    EXPECT_EQ(ev.server_isn, 0xa0b0c0d0u);
    EXPECT_EQ(ev.key.client_addr, client_);
    EXPECT_EQ(ev.key.vip_addr, vip_);
    EXPECT_EQ(ntohs(ev.key.client_port), kClientPort);
    EXPECT_EQ(ntohs(ev.key.vip_port), kVipPort);
    EXPECT_EQ(ev.client_opts.present, TCPFO_OPT_MSS | TCPFO_OPT_WSCALE | TCPFO_OPT_SACK_PERM | TCPFO_OPT_TIMESTAMPS);
    EXPECT_EQ(ev.client_opts.mss, 1460);
    EXPECT_EQ(ev.client_opts.wscale, 7);
    EXPECT_EQ(ev.server_opts.present, TCPFO_OPT_MSS | TCPFO_OPT_WSCALE | TCPFO_OPT_SACK_PERM | TCPFO_OPT_TIMESTAMPS);
    EXPECT_EQ(ev.server_opts.mss, 1400);
    EXPECT_EQ(ev.server_opts.wscale, 9);
    EXPECT_EQ(ev.tsval, 5000u);
    EXPECT_EQ(ev.tsecr, 1000u);

    auto state = snoop_->conn_state(key());
    ASSERT_TRUE(state) << state.error().message;
    EXPECT_EQ(state->client_isn, 0x11223344u);
    EXPECT_EQ(state->server_isn, 0xa0b0c0d0u);
    EXPECT_EQ(state->snd_nxt, 0xa0b0c0d1u);
    EXPECT_EQ(state->last_sent_ack, 0x11223345u);
    EXPECT_EQ(state->last_window, 65160);

    // The stable point starts at client_isn + 1: an ACK of 100 bytes is lowered to it.
    RunResult out = egress(from_server(0xa0b0c0d1, 0x11223345 + 100, kAck | kPsh));
    EXPECT_EQ(frame_ack(out.frame), 0x11223345u);

    // A retransmitted SYN-ACK opens nothing twice.
    TcpSegmentSpec synack = from_server(0xa0b0c0d0, 0x11223345, kSyn | kAck);
    EXPECT_EQ(egress(synack).verdict, kTcActOk);
    EXPECT_TRUE(drain().empty());
}

TEST_F(SnoopProgTest, SynAckWithoutSeenSynIsNotProtected) {
    EXPECT_EQ(egress(from_server(500, 1001, kSyn | kAck)).verdict, kTcActOk);
    EXPECT_TRUE(drain().empty());
    EXPECT_FALSE(snoop_->conn_state(key()));
}

TEST_F(SnoopProgTest, ClientDataBecomesDataEventWithPayload) {
    handshake(1000, 9000);
    TcpSegmentSpec data = from_client(1001, 9001, kAck | kPsh);
    data.window = 1234;
    data.options = concat({opt_nops(2), opt_timestamps(1111, 5555)});
    for (int i = 0; i < 1400; i++) data.payload.push_back(static_cast<uint8_t>(i * 7 + 3));
    EXPECT_EQ(ingress(data).verdict, kTcActOk);

    auto events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_DATA);
    EXPECT_EQ(events[0].ev.seq, 1001u);
    EXPECT_EQ(events[0].ev.len, 1400u);
    EXPECT_EQ(events[0].ev.ack, 9001u);
    EXPECT_EQ(events[0].ev.window, 1234);
    EXPECT_EQ(events[0].ev.tsval, 1111u);
    EXPECT_EQ(events[0].ev.tsecr, 5555u);
    EXPECT_NE(events[0].ev.ktime_ns, 0u);
    EXPECT_EQ(events[0].payload, data.payload);
}

TEST_F(SnoopProgTest, FinWithPayloadGivesDataThenClientFin) {
    handshake(1000, 9000);
    TcpSegmentSpec fin = from_client(1001, 9001, kAck | kFin);
    fin.payload = {'b', 'y', 'e'};
    ingress(fin);
    auto events = drain();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_DATA);
    EXPECT_EQ(events[0].payload, fin.payload);
    EXPECT_EQ(events[1].ev.type, TCPFO_EV_CLIENT_FIN);
    EXPECT_EQ(events[1].ev.seq, 1004u);
    EXPECT_EQ(events[1].ev.ack, 9001u);
}

TEST_F(SnoopProgTest, ClientAckEventsOnlyWhenSomethingChanged) {
    handshake(1000, 9000);
    TcpSegmentSpec reply = from_server(9001, 1001, kAck | kPsh);  // the client acks these 100 bytes
    reply.payload = std::vector<uint8_t>(100, 0x42);
    egress(reply);
    drain();  // its OUT_DIGEST
    ingress(from_client(1001, 9101, kAck));
    ingress(from_client(1001, 9101, kAck));  // nothing new: no event
    TcpSegmentSpec wider = from_client(1001, 9101, kAck);
    wider.window = 4000;
    ingress(wider);
    auto events = drain();
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_ACK);
    EXPECT_EQ(events[0].ev.ack, 9101u);
    EXPECT_EQ(events[1].ev.type, TCPFO_EV_ACK);
    EXPECT_EQ(events[1].ev.window, 4000);

    ingress(from_client(1001, 9101, kRst | kAck));
    events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_RST);
    EXPECT_EQ(events[0].ev.flags & TCPFO_EVF_FROM_SERVER, 0);
}

// What the server's TCP refuses is never reported: the backups would log it.
TEST_F(SnoopProgTest, SegmentsTcpRefusesAreNotReported) {
    handshake(1000, 9000);
    // The server advertises a small window: 2 << 9 = 1024 bytes from 1001. (Frames a
    // test run takes stay under a page.)
    TcpSegmentSpec small = from_server(9001, 1001, kAck);
    small.window = 2;
    egress(small);
    drain();

    TcpSegmentSpec unsent_ack = from_client(1001, 9500, kAck | kPsh);  // acks output never sent
    unsent_ack.payload = std::vector<uint8_t>(100, 1);
    ingress(unsent_ack);
    EXPECT_TRUE(drain().empty()) << "a segment acknowledging unsent data is dropped whole by TCP";

    TcpSegmentSpec straddling = from_client(1001, 9001, kAck | kPsh);
    straddling.payload = std::vector<uint8_t>(2000, 2);
    ingress(straddling);
    auto events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_DATA);
    EXPECT_EQ(events[0].ev.len, 1024u) << "only the part inside the advertised window";
    EXPECT_EQ(events[0].payload.size(), 1024u);

    TcpSegmentSpec beyond = from_client(3000, 9001, kAck | kFin);
    beyond.payload = std::vector<uint8_t>(10, 3);
    ingress(beyond);
    EXPECT_TRUE(drain().empty()) << "data and FIN beyond the window";
    EXPECT_EQ(snoop_->stats().data_refused, 3u);

    TcpSegmentSpec inside = from_client(1001, 9001, kAck | kPsh);
    inside.payload = std::vector<uint8_t>(100, 4);
    ingress(inside);
    events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.len, 100u);
}

// TCP drops a segment with a wrong checksum before anything else: the hooks must neither
// report it nor let it move what they remember (here the client's window, a SYN's ISN).
// A test run's skb is CHECKSUM_NONE, so the program checks the full checksum, as it
// does for a segment no NIC or GRO has verified.
TEST_F(SnoopProgTest, SegmentsWithABadChecksumAreNotReportedNorRecorded) {
    handshake(1000, 9000);
    auto corrupt = [](std::vector<uint8_t> frame, size_t at) {
        frame[at] ^= 0x40;
        EXPECT_FALSE(checksums_valid(frame));
        return frame;
    };
    auto ingress_frame = [&](const std::vector<uint8_t>& frame) {
        EXPECT_EQ(run_prog(snoop_->ingress_prog_fd(), frame).verdict, kTcActOk) << "TCP itself drops it";
    };

    // Payload over four chunks of the sum, ending in an odd byte, with options.
    TcpSegmentSpec data = from_client(1001, 9001, kAck | kPsh);
    data.options = concat({opt_nops(2), opt_timestamps(1111, 5555)});
    for (int i = 0; i < 1999; i++) data.payload.push_back(static_cast<uint8_t>(i * 13 + 5));
    const auto good = build_frame(data);
    ASSERT_TRUE(checksums_valid(good));
    const size_t payload_at = kTcpOffset + 32;
    ingress_frame(corrupt(good, good.size() - 1));         // the odd last byte
    ingress_frame(corrupt(good, payload_at + 700));        // the middle of the second chunk
    ingress_frame(corrupt(good, kTcpOffset + 16));         // the checksum field
    ingress_frame(corrupt(good, kTcpOffset + 24));         // the timestamp option
    ingress_frame(corrupt(good, 14 + 12));                 // the source address: the pseudo-header
    EXPECT_TRUE(drain().empty()) << "a payload TCP drops reached the backups";
    EXPECT_EQ(snoop_->stats().data_refused, 5u);

    // A forged window update, FIN and RST: no event, and the client's view does not move.
    TcpSegmentSpec wider = from_client(1001, 9001, kAck);
    wider.window = 4000;
    ingress_frame(corrupt(build_frame(wider), kTcpOffset + 17));
    ingress_frame(corrupt(build_frame(from_client(1001, 9001, kAck | kFin)), kTcpOffset + 17));
    ingress_frame(corrupt(build_frame(from_client(1001, 9001, kAck | kRst)), kTcpOffset + 17));
    EXPECT_TRUE(drain().empty());
    EXPECT_EQ(snoop_->stats().data_refused, 5u) << "counts payload only";
    ingress(wider);
    auto events = drain();
    ASSERT_EQ(events.size(), 1u) << "the forged window update moved the client's view";
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_ACK);
    EXPECT_EQ(events[0].ev.window, 4000);

    // The same payload with its checksum intact is reported whole.
    ingress_frame(good);
    events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_DATA);
    EXPECT_EQ(events[0].payload, data.payload);

    // A forged SYN is not remembered: the server's SYN-ACK to the real one opens nothing
    // unless the real SYN was seen.
    const uint16_t other = kClientPort + 1;
    ingress_frame(corrupt(build_frame(from_client(7000, 0, kSyn, other)), kTcpOffset + 17));
    EXPECT_EQ(egress(from_server(3000, 7001, kSyn | kAck, other)).verdict, kTcActOk);
    EXPECT_TRUE(drain().empty());
    EXPECT_FALSE(snoop_->conn_state(key(other))) << "a SYN TCP dropped opened a protected connection";
    EXPECT_EQ(snoop_->stats().data_refused, 5u);
}

TEST_F(SnoopProgTest, UnknownConnectionsAndOtherPortsAreIgnored) {
    TcpSegmentSpec data = from_client(1001, 9001, kAck);
    data.payload = {1, 2, 3};
    ingress(data);  // no handshake seen
    TcpSegmentSpec other = data;
    other.dst_port = 7001;
    ingress(other);
    EXPECT_TRUE(drain().empty());
}

TEST_F(SnoopProgTest, EgressAckAboveStableIsLoweredWithValidChecksum) {
    handshake(1000, 9000);
    TcpSegmentSpec seg = from_server(9001, 1001 + 5000, kAck | kPsh);
    seg.options = concat({opt_nops(2), opt_timestamps(7000, 2000)});
    seg.payload = std::vector<uint8_t>(300, 0x5a);
    auto frame = build_frame(seg);
    ASSERT_TRUE(checksums_valid(frame));
    RunResult out = run_prog(snoop_->egress_prog_fd(), frame);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_EQ(frame_ack(out.frame), 1001u);
    EXPECT_TRUE(checksums_valid(out.frame)) << "TCP checksum broken by the clamp";
    // Nothing but the ACK field and the checksum changed.
    auto expected = frame;
    expected[kTcpOffset + 8] = out.frame[kTcpOffset + 8];
    expected[kTcpOffset + 9] = out.frame[kTcpOffset + 9];
    expected[kTcpOffset + 10] = out.frame[kTcpOffset + 10];
    expected[kTcpOffset + 11] = out.frame[kTcpOffset + 11];
    expected[kTcpOffset + 16] = out.frame[kTcpOffset + 16];
    expected[kTcpOffset + 17] = out.frame[kTcpOffset + 17];
    EXPECT_EQ(out.frame, expected);
    EXPECT_EQ(snoop_->stats().acks_clamped, 1u);

    auto state = snoop_->conn_state(key());
    ASSERT_TRUE(state);
    EXPECT_EQ(state->snd_nxt, 9001u + 300);
    EXPECT_EQ(state->last_sent_ack, 1001u);
    EXPECT_EQ(state->last_tsval, 7000u);
    EXPECT_EQ(state->last_tsecr, 2000u);
}

TEST_F(SnoopProgTest, AckNotAboveStableIsUntouched) {
    handshake(1000, 9000);
    ASSERT_TRUE(snoop_->set_stable(key(), 1001 + 10000));
    for (uint32_t ack : {1001u + 4000, 1001u + 10000}) {
        auto frame = build_frame(from_server(9001, ack, kAck));
        RunResult out = run_prog(snoop_->egress_prog_fd(), frame);
        EXPECT_EQ(out.verdict, kTcActOk);
        EXPECT_EQ(out.frame, frame) << "ack " << ack;
    }
    EXPECT_EQ(snoop_->stats().acks_clamped, 0u);
}

TEST_F(SnoopProgTest, ClampedPureAckRepeatingLastAckIsDropped) {
    handshake(1000, 9000);  // SYN-ACK: ack 1001, window 65160
    TcpSegmentSpec first = from_server(9001, 1001 + 1000, kAck);
    first.window = 502;  // differs from the SYN-ACK's: a window update the client needs
    RunResult out = egress(first);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_EQ(frame_ack(out.frame), 1001u);

    TcpSegmentSpec second = from_server(9001, 1001 + 2000, kAck);
    second.window = 502;
    EXPECT_EQ(egress(second).verdict, kTcActShot) << "a duplicate ACK must not reach the client";
    EXPECT_EQ(snoop_->stats().dup_acks_dropped, 1u);
    // The dropped ACK still tells how far the server's stack got (the nudge's ceiling).
    auto server_ack = snoop_->server_ack(key());
    ASSERT_TRUE(server_ack);
    EXPECT_EQ(*server_ack, 1001u + 2000);

    // Data is never dropped, even when its ACK is clamped to the same value.
    TcpSegmentSpec data = second;
    data.payload = {1, 2, 3, 4};
    out = egress(data);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_EQ(frame_ack(out.frame), 1001u);

    // Once the stable point moves, the next pure ACK goes out with it.
    ASSERT_TRUE(snoop_->set_stable(key(), 1001 + 1500));
    out = egress(second);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_EQ(frame_ack(out.frame), 1001u + 1500);
    EXPECT_TRUE(checksums_valid(out.frame));

    // A pure ACK the clamp did not lower is passed even if it repeats (the kernel's own dupack).
    TcpSegmentSpec real_dup = from_server(9005, 1001 + 1500, kAck);
    real_dup.window = 502;
    EXPECT_EQ(egress(real_dup).verdict, kTcActOk);
}

TEST_F(SnoopProgTest, NudgeIsPassedUntouchedAndRecorded) {
    handshake(1000, 9000);
    ASSERT_TRUE(snoop_->set_stable(key(), 1500));
    auto nudge = build_frame(from_server(9001, 1500, kAck));
    RunResult out = run_prog(snoop_->egress_prog_fd(), nudge, TCPFO_NUDGE_MARK);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_EQ(out.frame, nudge);
    auto state = snoop_->conn_state(key());
    ASSERT_TRUE(state);
    EXPECT_EQ(state->last_sent_ack, 1500u);
    EXPECT_EQ(state->last_window, 502);

    // Even a marked segment above the stable point is not the clamp's business.
    auto above = build_frame(from_server(9001, 4000, kAck));
    EXPECT_EQ(run_prog(snoop_->egress_prog_fd(), above, TCPFO_NUDGE_MARK).frame, above);
}

TEST_F(SnoopProgTest, SackBlocksAboveStableAreStrippedUnderALoweredAck) {
    handshake(1000, 9000);
    const uint32_t stable = 1001 + 1000;
    ASSERT_TRUE(snoop_->set_stable(key(), stable));

    // The ACK is lowered: one block below the stable point (kept), one above (removed).
    TcpSegmentSpec seg = from_server(9001, stable + 500, kAck);
    seg.window = 700;
    seg.options = concat({opt_nops(2), opt_timestamps(1, 2), opt_nops(2),
                          opt_sack({{1001 + 2000, 1001 + 3000}, {1001 + 200, 1001 + 600}})});
    RunResult out = egress(seg);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_EQ(frame_ack(out.frame), stable);
    EXPECT_TRUE(checksums_valid(out.frame));
    auto expected_opts = concat({opt_nops(2), opt_timestamps(1, 2), opt_nops(2),
                                 opt_sack({{1001 + 200, 1001 + 600}}), opt_nops(8)});
    EXPECT_EQ(frame_tcp_options(out.frame), expected_opts);

    // Every block above: the whole option becomes NOPs.
    seg.options = concat({opt_nops(2), opt_timestamps(3, 4), opt_nops(2),
                          opt_sack({{1001 + 2000, 1001 + 3000}, {1001 + 1600, 1001 + 1700}, {1001 + 4000, 1001 + 5000}})});
    seg.window = 800;
    out = egress(seg);
    EXPECT_EQ(out.verdict, kTcActOk);
    EXPECT_TRUE(checksums_valid(out.frame));
    EXPECT_EQ(frame_tcp_options(out.frame), concat({opt_nops(2), opt_timestamps(3, 4), opt_nops(28)}));
}

// A lost client segment: the socket acknowledges up to the hole, at or below the stable
// point, and names what it holds above it. Those blocks must reach the client, or it
// resends nothing until its retransmission timer.
TEST_F(SnoopProgTest, SackBlocksOfAnUnloweredAckAreKept) {
    handshake(1000, 9000);
    const uint32_t stable = 1001 + 1000;
    ASSERT_TRUE(snoop_->set_stable(key(), stable));

    for (uint32_t ack : {stable, stable - 300}) {
        TcpSegmentSpec seg = from_server(9001, ack, kAck);
        seg.window = uint16_t(ack & 0xfff);
        seg.options = concat({opt_nops(2), opt_timestamps(5, 6), opt_nops(2),
                              opt_sack({{1001 + 2000, 1001 + 3000}, {1001 + 1500, 1001 + 1800}})});
        auto frame = build_frame(seg);
        RunResult out = run_prog(snoop_->egress_prog_fd(), frame);
        EXPECT_EQ(out.verdict, kTcActOk);
        EXPECT_EQ(out.frame, frame) << "ack " << ack;
    }
}

TEST_F(SnoopProgTest, ClampFollowsSequenceWraparound) {
    const uint32_t client_isn = 0xfffff000;
    handshake(client_isn, 0xfffffff0);
    const uint32_t stable = client_isn + 1;  // 0xfffff001

    // 0x500 is "after" 0xfffff001 across the wrap: lowered.
    RunResult out = egress(from_server(0xfffffff1, 0x00000500, kAck | kPsh));
    EXPECT_EQ(frame_ack(out.frame), stable);
    EXPECT_TRUE(checksums_valid(out.frame));
    // 0xfffff000 is before the stable point: untouched.
    auto below = build_frame(from_server(0xfffffff1, 0xfffff000, kAck | kPsh));
    EXPECT_EQ(run_prog(snoop_->egress_prog_fd(), below).frame, below);

    // Stable point itself past the wrap.
    ASSERT_TRUE(snoop_->set_stable(key(), 0x00000100));
    auto before = build_frame(from_server(0xfffffff1, 0xfffffff0, kAck | kPsh));
    EXPECT_EQ(run_prog(snoop_->egress_prog_fd(), before).frame, before);
    out = egress(from_server(0xfffffff1, 0x00000200, kAck | kPsh));
    EXPECT_EQ(frame_ack(out.frame), 0x100u);
    EXPECT_TRUE(checksums_valid(out.frame));

    // Server sequence wrap: snd_nxt follows seq + len across 2^32.
    TcpSegmentSpec data = from_server(0xfffffffe, 0x100, kAck | kPsh);
    data.payload = std::vector<uint8_t>(10, 1);
    egress(data);
    auto state = snoop_->conn_state(key());
    ASSERT_TRUE(state);
    EXPECT_EQ(state->snd_nxt, 8u);
}

TEST_F(SnoopProgTest, ServerFinAndRstAreReported) {
    handshake(1000, 9000);
    TcpSegmentSpec fin = from_server(9001, 1001, kAck | kFin);
    fin.payload = {'x', 'y'};
    egress(fin);
    auto state = snoop_->conn_state(key());
    ASSERT_TRUE(state);
    EXPECT_EQ(state->snd_nxt, 9001u + 2 + 1);
    egress(from_server(9004, 1001, kRst | kAck));
    auto events = drain();
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_SERVER_FIN);
    EXPECT_EQ(events[0].ev.seq, 9003u);
    EXPECT_EQ(events[0].ev.flags & TCPFO_EVF_FROM_SERVER, TCPFO_EVF_FROM_SERVER);
    EXPECT_EQ(events[1].ev.type, TCPFO_EV_OUT_DIGEST);  // the FIN's two payload bytes
    EXPECT_EQ(events[2].ev.type, TCPFO_EV_RST);
    EXPECT_EQ(events[2].ev.flags & TCPFO_EVF_FROM_SERVER, TCPFO_EVF_FROM_SERVER);
}

// The backup checks its replica's output with replay/output_digest.h: the hook's
// digest must be the same function, at every length around the chunk and word edges.
TEST_F(SnoopProgTest, ServerPayloadIsDigestedAsTheBackupDigestsIt) {
    handshake(1000, 9000);
    uint32_t seq = 9001;
    for (size_t len : {1, 2, 3, 4, 5, 7, 511, 512, 513, 1023, 1024, 1025, 1448, 2000, 2999}) {
        TcpSegmentSpec seg = from_server(seq, 1001, kAck | kPsh);
        seg.payload.resize(len);
        for (size_t i = 0; i < len; ++i) seg.payload[i] = uint8_t((i * 131 + len * 7) ^ (i >> 3));
        EXPECT_EQ(egress(seg).verdict, kTcActOk);
        auto events = drain();
        ASSERT_EQ(events.size(), 1u) << len;
        EXPECT_EQ(events[0].ev.type, TCPFO_EV_OUT_DIGEST);
        EXPECT_EQ(events[0].ev.seq, seq);
        EXPECT_EQ(events[0].ev.len, len);
        EXPECT_EQ(events[0].ev.digest, digest_of(seg.payload)) << "payload of " << len << " bytes";
        seq += uint32_t(len);
    }
    // All ones: a chunk whose sum is 0xffff must come out as 0 on both sides.
    TcpSegmentSpec ones = from_server(seq, 1001, kAck);
    ones.payload = std::vector<uint8_t>(600, 0xff);
    egress(ones);
    auto events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.digest, digest_of(ones.payload));
    EXPECT_EQ(snoop_->stats().digest_failures, 0u);
}

// The server's socket is gone while the clamp still holds the client's FIN
// unacknowledged: the kernel's RST for the client's retransmission must not reach it.
TEST_F(SnoopProgTest, SocketlessKernelRstIsHeldButApplicationAbortPasses) {
    handshake(1000, 9000);
    auto kernel_rst = from_server(9001, 0, kRst);
    EXPECT_EQ(egress(kernel_rst).verdict, kTcActShot);
    EXPECT_TRUE(drain().empty());
    EXPECT_TRUE(snoop_->conn_state(key()));  // still protected: the nudge will finish it
    EXPECT_EQ(snoop_->stats().rsts_held, 1u);
    auto abort = from_server(9001, 1001, kRst | kAck);
    EXPECT_EQ(egress(abort).verdict, kTcActOk);
    auto events = drain();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ev.type, TCPFO_EV_RST);
}

TEST_F(SnoopProgTest, ForgetStopsProtection) {
    handshake(1000, 9000);
    snoop_->forget(key());
    EXPECT_FALSE(snoop_->conn_state(key()));
    EXPECT_FALSE(snoop_->set_stable(key(), 5000));
    auto frame = build_frame(from_server(9001, 9999, kAck));
    EXPECT_EQ(run_prog(snoop_->egress_prog_fd(), frame).frame, frame);
}

TEST(BpfSnoopConfig, BadConfigurationGivesOneLineErrors) {
    auto no_dev = BpfSnoop::attach({"tcpfo-nodev0", htonl(0xc0000264), 7000});
    ASSERT_FALSE(no_dev);
    EXPECT_EQ(no_dev.error().message, "can't resolve ifindex for tcpfo-nodev0: No such device");
    auto no_port = BpfSnoop::load({"", htonl(0xc0000264), 0});
    ASSERT_FALSE(no_port);
    EXPECT_EQ(no_port.error().message.find('\n'), std::string::npos);
}

TEST_F(SnoopProgTest, FrozenDropsEverySegmentFromTheServicePort) {
    handshake(1000, 9000);
    ASSERT_TRUE(snoop_->set_stable(key(), 1500));
    EXPECT_FALSE(snoop_->frozen());
    snoop_->set_frozen(true);
    EXPECT_TRUE(snoop_->frozen());
    TcpSegmentSpec data = from_server(9001, 1500, kAck | kPsh);
    data.payload = {1, 2, 3};
    EXPECT_EQ(egress(data).verdict, kTcActShot) << "a protected connection's data";
    EXPECT_EQ(egress(from_server(9001, 1500, kAck), TCPFO_NUDGE_MARK).verdict, kTcActShot) << "a nudge";
    EXPECT_EQ(egress(from_server(9001, 1500, kFin | kAck)).verdict, kTcActShot) << "a FIN";
    EXPECT_EQ(egress(from_server(9001, 1500, kRst | kAck)).verdict, kTcActShot) << "a RST";
    EXPECT_EQ(egress(from_server(5, 6, kAck, kClientPort + 1)).verdict, kTcActShot) << "a connection not in conns";
    EXPECT_EQ(egress(from_server(500, 1001, kSyn | kAck, kClientPort + 2)).verdict, kTcActShot) << "a SYN-ACK";
    EXPECT_EQ(snoop_->stats().frozen_dropped, 6u);
    // Other services are never touched.
    TcpSegmentSpec other = from_server(9001, 1500, kAck);
    other.src_port = kVipPort + 1;
    EXPECT_EQ(egress(other).verdict, kTcActOk);
    snoop_->set_frozen(false);
    EXPECT_EQ(egress(from_server(9001, 1500, kAck | kPsh)).verdict, kTcActOk);
}

}  // namespace
}  // namespace tcpfo::test
