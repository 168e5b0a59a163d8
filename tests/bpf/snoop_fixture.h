// What the BPF_PROG_TEST_RUN tests of bpf/snoop.bpf.c share: the programs loaded (not
// attached) through BpfSnoop for one VIP:PORT, a run of one program on one crafted
// frame, and the segments of a test connection client:kClientPort <-> VIP:kVipPort.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "frame_builder.h"
#include "userd/hooks/bpf_snoop.h"

namespace tcpfo::test {

constexpr uint16_t kVipPort = 7000;
constexpr uint16_t kClientPort = 40000;
// TC_ACT_OK and TC_ACT_SHOT (linux/pkt_cls.h).
constexpr int kTcActOk = 0;
constexpr int kTcActShot = 2;

// A dotted IPv4 address in network order.
uint32_t addr(const char* text);

struct RunResult {
    int verdict = -1;
    std::vector<uint8_t> frame;  // the frame as the program left it
};

// One BPF_PROG_TEST_RUN of prog_fd on `frame`, with skb->mark = mark.
RunResult run_prog(int prog_fd, const std::vector<uint8_t>& frame, uint32_t mark = 0);

class SnoopFixture : public ::testing::Test {
protected:
    void SetUp() override;

    // A client -> VIP segment of the test connection (or of its neighbour on `port`).
    TcpSegmentSpec from_client(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t port = kClientPort) const;
    // A VIP -> client segment of the same connection.
    TcpSegmentSpec from_server(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t port = kClientPort) const;
    tcpfo_conn_key key(uint16_t port = kClientPort) const;

    uint32_t vip_ = addr("192.0.2.100");
    uint32_t client_ = addr("192.0.2.1");
    std::unique_ptr<BpfSnoop> snoop_;
};

}  // namespace tcpfo::test
