#include "snoop_fixture.h"

#include <arpa/inet.h>
#include <linux/bpf.h>

#include <cstring>
#include <utility>

#include <bpf/bpf.h>

namespace tcpfo::test {

uint32_t addr(const char* text) {
    in_addr a{};
    inet_pton(AF_INET, text, &a);
    return a.s_addr;
}

RunResult run_prog(int prog_fd, const std::vector<uint8_t>& frame, uint32_t mark) {
    RunResult result;
    result.frame.resize(frame.size() + 512);
    __sk_buff ctx{};
    ctx.mark = mark;
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.data_out = result.frame.data();
    opts.data_size_out = static_cast<uint32_t>(result.frame.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.repeat = 1;
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    EXPECT_EQ(err, 0) << "bpf_prog_test_run_opts: " << strerror(-err);
    result.verdict = static_cast<int>(opts.retval);
    result.frame.resize(opts.data_size_out);
    return result;
}

void SnoopFixture::SetUp() {
    auto loaded = BpfSnoop::load({"", vip_, kVipPort});
    ASSERT_TRUE(loaded) << loaded.error().message;
    snoop_ = std::move(*loaded);
}

TcpSegmentSpec SnoopFixture::from_client(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t port) const {
    TcpSegmentSpec s;
    s.src_addr = client_;
    s.dst_addr = vip_;
    s.src_port = port;
    s.dst_port = kVipPort;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    return s;
}

TcpSegmentSpec SnoopFixture::from_server(uint32_t seq, uint32_t ack, uint8_t flags, uint16_t port) const {
    TcpSegmentSpec s = from_client(seq, ack, flags, port);
    std::swap(s.src_addr, s.dst_addr);
    std::swap(s.src_port, s.dst_port);
    return s;
}

tcpfo_conn_key SnoopFixture::key(uint16_t port) const {
    return {client_, vip_, htons(port), htons(kVipPort)};
}

}  // namespace tcpfo::test
