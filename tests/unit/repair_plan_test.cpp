#include "userd/takeover/repair_plan.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {
ConnOpenRecord sample_conn() {
    ConnOpenRecord c;
    c.conn_id = 1;
    c.client_addr = inet_addr("192.0.2.1");
    c.client_port = 40000;
    c.vip_addr = inet_addr("192.0.2.100");
    c.vip_port = 7000;
    c.client_isn = 0xffffff00;  // the client's stream wraps within the test
    c.server_isn = 0x7ffffff0;
    c.client_options = {1460, 7, TCPFO_OPT_MSS | TCPFO_OPT_WSCALE | TCPFO_OPT_SACK_PERM | TCPFO_OPT_TIMESTAMPS};
    c.server_options = {1400, 9, TCPFO_OPT_MSS | TCPFO_OPT_WSCALE | TCPFO_OPT_SACK_PERM | TCPFO_OPT_TIMESTAMPS};
    return c;
}
}  // namespace

TEST(RepairPlan, SequencesComeFromTheLogAndTheClientsAck) {
    const auto conn = sample_conn();
    InputLog log(1 << 20, 1 << 20);
    std::vector<uint8_t> bytes(1000, 1);
    log.insert(0, bytes);
    log.set_fin(1000);
    ReplicaOutput out(1 << 20);
    out.append(bytes);
    out.acknowledge(600);
    ClientView client{true, 1000, 5, 77777, 10'000};
    const RepairState s = repair_state_for(conn, log, out, client, 10'040);
    EXPECT_EQ(s.rcv_nxt, conn.client_isn + 1 + 1000 + 1);  // bytes + FIN, wrapped
    EXPECT_EQ(s.snd_una, conn.server_isn + 1 + 600);
    EXPECT_EQ(s.snd_nxt, s.snd_una);  // output is written after repair, not queued as sent
    EXPECT_EQ(ntohs(s.local.sin_port), 7000);
    EXPECT_EQ(s.remote.sin_addr.s_addr, conn.client_addr);
    EXPECT_EQ(s.mss, 1460);  // the client's MSS bounds what we send
    EXPECT_TRUE(s.wscale_ok);
    EXPECT_EQ(s.snd_wscale, 7);
    EXPECT_EQ(s.rcv_wscale, 9);
    EXPECT_EQ(s.snd_wnd, 1000u << 7);
    EXPECT_TRUE(s.sack_ok);
    ASSERT_TRUE(s.timestamps_ok);
    // At least the echoed TSval plus the time since it was heard.
    EXPECT_GE(s.tsval, 77777u + 40);
}

TEST(RepairPlan, AStaleZeroWindowIsNotBelieved) {
    const auto conn = sample_conn();
    InputLog log(1024, 1024);
    ReplicaOutput out(1024);
    const RepairState s = repair_state_for(conn, log, out, ClientView{true, 0, 1, 2, 0}, 0);
    EXPECT_EQ(s.snd_wnd, 64u * 1024);  // else the socket would wait for its probe timer
}

TEST(RepairPlan, TheWindowInTheClientsAnswerIsBelievedHoweverSmall) {
    const auto conn = sample_conn();
    InputLog log(1024, 1024);
    ReplicaOutput out(1 << 20);
    out.append(std::vector<uint8_t>(5000, 1));
    out.acknowledge(1000);
    ClientPosition position;
    position.rcv_nxt = conn.server_isn + 1 + 3000;
    position.window = 1;  // a download client whose buffer is full: 128 bytes with wscale 7
    const RepairState s = repair_state_for(conn, log, out, ClientView{true, 500, 1, 2, 0}, 0, position);
    ASSERT_EQ(s.snd_nxt, position.rcv_nxt) << "placed where the client is";
    // Not the 64 KiB floor: a first flight beyond it would be dropped and resent only
    // at the rebuilt socket's initial RTO.
    EXPECT_EQ(s.snd_wnd, 1u << 7);
    position.window = 0;
    EXPECT_EQ(repair_state_for(conn, log, out, ClientView{true, 500, 1, 2, 0}, 0, position).snd_wnd, 0u);
}

TEST(RepairPlan, OptionsOnlyWhenBothSidesAgreed) {
    auto conn = sample_conn();
    conn.server_options.present = TCPFO_OPT_MSS;  // server declined wscale, SACK, timestamps
    InputLog log(1024, 1024);
    ReplicaOutput out(1024);
    const RepairState s = repair_state_for(conn, log, out, ClientView{}, 0);
    EXPECT_FALSE(s.wscale_ok);
    EXPECT_EQ(s.snd_wscale, 0);
    EXPECT_FALSE(s.sack_ok);
    EXPECT_FALSE(s.timestamps_ok);
    EXPECT_EQ(s.snd_wnd, 65536u);  // nothing heard from the client: the assumed minimum
    EXPECT_EQ(s.rcv_nxt, conn.client_isn + 1);
}
