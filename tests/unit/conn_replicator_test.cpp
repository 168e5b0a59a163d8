#include "userd/primary/conn_replicator.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

constexpr uint32_t kClientIsn = 0xfffffff0;  // client stream wraps 2^32 after 15 bytes
constexpr uint32_t kServerIsn = 1000;

tcpfo_event make_event(uint8_t type) {
    tcpfo_event ev{};
    ev.type = type;
    ev.key.client_addr = inet_addr("192.0.2.1");
    ev.key.vip_addr = inet_addr("192.0.2.100");
    ev.key.client_port = htons(40000);
    ev.key.vip_port = htons(7000);
    ev.client_isn = kClientIsn;
    ev.server_isn = kServerIsn;
    ev.client_opts = {1460, 7, TCPFO_OPT_MSS | TCPFO_OPT_WSCALE | TCPFO_OPT_TIMESTAMPS};
    ev.server_opts = {1460, 9, TCPFO_OPT_MSS | TCPFO_OPT_WSCALE | TCPFO_OPT_TIMESTAMPS};
    return ev;
}

struct Recorder {
    std::vector<Record> records;
    std::vector<std::vector<uint8_t>> data_copies;
    ConnReplicator::Emit emit() {
        return [this](const Record& r) {
            records.push_back(r);
            if (auto* d = std::get_if<DataRecord>(&r)) data_copies.emplace_back(d->bytes.begin(), d->bytes.end());
        };
    }
};

tcpfo_event data_event(uint64_t offset, uint32_t ack_offset) {
    auto ev = make_event(TCPFO_EV_DATA);
    ev.seq = kClientIsn + 1 + uint32_t(offset);
    ev.ack = kServerIsn + 1 + ack_offset;
    ev.window = 500;
    return ev;
}

}  // namespace

TEST(ConnReplicator, ForwardsNewBytesOnceAcrossTheWrap) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    EXPECT_EQ(conn.open_record().client_port, 40000);
    Recorder rec;
    std::vector<uint8_t> bytes(100, 0xab);
    conn.on_event(data_event(0, 0), bytes, rec.emit());
    conn.on_event(data_event(0, 0), bytes, rec.emit());                      // retransmission
    conn.on_event(data_event(50, 0), std::span(bytes).first(80), rec.emit());  // overlap
    ASSERT_EQ(rec.data_copies.size(), 2u);
    EXPECT_EQ(std::get<DataRecord>(rec.records[0]).offset, 0u);
    EXPECT_EQ(rec.data_copies[0].size(), 100u);
    const DataRecord* second = nullptr;
    for (auto& r : rec.records)
        if (auto* d = std::get_if<DataRecord>(&r); d && d->offset != 0) second = d;
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->offset, 100u);
    EXPECT_EQ(rec.data_copies[1].size(), 30u);
}

TEST(ConnReplicator, ForwardsAboveAGapAndStillFillsIt) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    Recorder rec;
    std::vector<uint8_t> bytes(100, 1);
    conn.on_event(data_event(100, 0), bytes, rec.emit());  // the event for 0..100 was dropped
    conn.on_event(data_event(0, 0), bytes, rec.emit());    // the client's retransmission
    ASSERT_EQ(rec.data_copies.size(), 2u);
}

TEST(ConnReplicator, ContiguousMarkPassesBytesForwardedAboveAFilledGap) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    Recorder rec;
    std::vector<uint8_t> bytes(100, 1);
    conn.on_event(data_event(100, 0), bytes, rec.emit());  // above a gap
    conn.on_event(data_event(0, 0), bytes, rec.emit());    // the gap filled: mark at 100
    conn.on_stable(PeerId{0}, 200);                         // the backup holds both
    EXPECT_EQ(conn.forwarded_offset(), 200u);
    conn.on_event(data_event(200, 0), bytes, rec.emit());  // contiguous again
    EXPECT_EQ(conn.forwarded_offset(), 300u);
}

TEST(ConnReplicator, StablePointIsTheMinimumOverRequiredPeers) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true, true, false});
    EXPECT_FALSE(conn.on_stable(PeerId{0}, 500));
    EXPECT_TRUE(conn.on_stable(PeerId{1}, 300));
    EXPECT_EQ(conn.stable_offset(), 300u);
    EXPECT_EQ(conn.stable_seq(), kClientIsn + 1 + 300);  // wrapped past 2^32
    EXPECT_FALSE(conn.on_stable(PeerId{2}, 10000));                // not required: ignored
    EXPECT_TRUE(conn.requires_peer(PeerId{0}));
    EXPECT_FALSE(conn.requires_peer(PeerId{2}));                   // joined later: gets no records
    EXPECT_FALSE(conn.requires_peer(PeerId{7}));
    EXPECT_TRUE(conn.drop_peer(PeerId{1}));                        // only peer 0 holds it back now
    EXPECT_EQ(conn.stable_offset(), 500u);
    EXPECT_TRUE(conn.has_required_peers());
    conn.drop_peer(PeerId{0});
    EXPECT_FALSE(conn.has_required_peers());
}

TEST(ConnReplicator, ReportsClientAcksOnlyWhenTheyMove) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    Recorder rec;
    auto ack = make_event(TCPFO_EV_ACK);
    ack.ack = kServerIsn + 1 + 4000;
    ack.window = 300;
    conn.on_event(ack, {}, rec.emit());
    conn.on_event(ack, {}, rec.emit());  // nothing new
    ack.window = 200;
    conn.on_event(ack, {}, rec.emit());  // window update
    ASSERT_EQ(rec.records.size(), 2u);
    EXPECT_EQ(std::get<ClientAckRecord>(rec.records[0]).acked, 4000u);
    EXPECT_EQ(std::get<ClientAckRecord>(rec.records[1]).window, 200);
}

TEST(ConnReplicator, FinishesOnlyWhenBothFinsAreAcknowledgedAndStable) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    Recorder rec;
    std::vector<uint8_t> bytes(10, 2);
    conn.on_event(data_event(0, 0), bytes, rec.emit());
    auto cfin = make_event(TCPFO_EV_CLIENT_FIN);
    cfin.seq = kClientIsn + 1 + 10;
    conn.on_event(cfin, {}, rec.emit());
    auto sfin = make_event(TCPFO_EV_SERVER_FIN);
    sfin.seq = kServerIsn + 1 + 10;
    conn.on_event(sfin, {}, rec.emit());
    EXPECT_FALSE(conn.finished());
    conn.on_stable(PeerId{0}, 11);  // bytes + FIN logged
    EXPECT_FALSE(conn.finished());  // the client has not acknowledged the server's FIN
    auto last_ack = make_event(TCPFO_EV_ACK);
    last_ack.ack = kServerIsn + 1 + 11;
    conn.on_event(last_ack, {}, rec.emit());
    EXPECT_TRUE(conn.finished());
}

TEST(ConnReplicator, ResetEmitsCloseOnce) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    Recorder rec;
    auto rst = make_event(TCPFO_EV_RST);
    rst.flags = TCPFO_EVF_FROM_SERVER;
    conn.on_event(rst, {}, rec.emit());
    conn.on_event(rst, {}, rec.emit());
    ASSERT_EQ(rec.records.size(), 1u);
    EXPECT_EQ(std::get<CloseRecord>(rec.records[0]).reason, CloseReason::reset_by_server);
    EXPECT_TRUE(conn.reset());
}

TEST(ConnReplicator, KnowsWhenTheHandshakeCompleted) {
    ConnReplicator conn(7, make_event(TCPFO_EV_CONN_OPEN), {true});
    EXPECT_FALSE(conn.heard_from_client());
    Recorder rec;
    auto ack = make_event(TCPFO_EV_ACK);
    ack.ack = kServerIsn + 1;
    conn.on_event(ack, {}, rec.emit());
    EXPECT_TRUE(conn.heard_from_client());
}
