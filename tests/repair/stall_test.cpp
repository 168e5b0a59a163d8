// The takeover's stall kit, proven with a real client: the client has sent bytes the
// rebuilt socket does not hold (they went to a primary that died with them). The backup
// holds the connection in its ingress hook, claims the VIP, probes the client and reads
// its real position from the hold record, rebuilds the socket with it, then prompts
// the client to resend at once (SACK prompt, or duplicate ACKs without SACK) instead of
// at its retransmission timer. Every byte must arrive in order, and no RST may reach
// the client.
//
//   client 192.0.2.1 ──┐
//   A 192.0.2.11 + VIP ─┼── br0 (namespace TCPFO_NS_BRIDGE; ports pc, pa, pb)
//   B 192.0.2.12 ──────┘   B: BpfSnoop on eth0 (hold, takeover mode), nudge socket
//
// Timings are printed (and recorded as test properties), never asserted: the machine
// is shared. TCPFO_STALL_REPEAT=n repeats each scenario n times for the figures;
// TCPFO_STALL_SILENCE_MS sets the time from the crash to the takeover (30 ms).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "netns_harness.h"
#include "userd/base/seq.h"
#include "userd/hooks/bpf_snoop.h"
#include "userd/hooks/nudge_sender.h"
#include "userd/takeover/client_probe.h"
#include "userd/takeover/gratuitous_arp.h"
#include "userd/takeover/resend_prompt.h"
#include "userd/takeover/tcp_repair.h"
#include "userd/takeover/vip_address.h"

namespace tcpfo {
namespace {

using test::now_ns;
constexpr uint8_t kClientSalt = 0x31, kServerSalt = 0x42;
constexpr size_t kClientBytesBefore = 4000;  // held by the "backup" (A read them)
constexpr size_t kServerBytesBefore = 3000;  // the client read them
// Crash to takeover (the client's TLP goes to the void); TCPFO_STALL_SILENCE_MS overrides.
uint64_t silence_ms() {
    const char* v = std::getenv("TCPFO_STALL_SILENCE_MS");
    return v ? uint64_t(std::max(0, std::atoi(v))) : 30;
}

double ms(uint64_t from, uint64_t to) { return (double(to) - double(from)) / 1e6; }

bool wait_for(const std::function<bool()>& condition, uint64_t timeout_ms) {
    const uint64_t deadline = now_ns() + timeout_ms * 1'000'000;
    while (!condition()) {
        if (now_ns() > deadline) return false;
        poll(nullptr, 0, 1);
    }
    return true;
}

void sleep_until(uint64_t t_ns) {
    while (now_ns() < t_ns) poll(nullptr, 0, 1);
}

UniqueFd listen_on(uint16_t port) {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at = test::socket_address("0.0.0.0", port);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)) < 0 || listen(fd.get(), 8) < 0)
        fd.reset();
    return fd;
}

bool write_all(int fd, const uint8_t* data, size_t len) {
    while (len > 0) {
        const ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) return false;
        data += n;
        len -= size_t(n);
    }
    return true;
}

// Reads exactly len bytes (blocking socket), checking the pattern from `offset`.
std::string read_pattern(int fd, size_t len, uint64_t offset, uint8_t salt) {
    uint8_t buf[65536];
    while (len > 0) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) return "timed out";
        const ssize_t n = recv(fd, buf, std::min(len, sizeof(buf)), MSG_DONTWAIT);
        if (n <= 0) return n == 0 ? "EOF" : std::strerror(errno);
        if (size_t bad = test::check_pattern(buf, size_t(n), offset, salt); bad != size_t(n))
            return fmt::format("byte at offset {} differs", offset + bad);
        offset += uint64_t(n);
        len -= size_t(n);
    }
    return "";
}

bool send_pattern(int fd, size_t len, uint64_t offset, uint8_t salt) {
    std::vector<uint8_t> buf(len);
    test::fill_pattern(buf.data(), len, offset, salt);
    return write_all(fd, buf.data(), len);
}

int queued(int fd, unsigned long request) {
    int n = -1;
    ioctl(fd, request, &n);
    return n;
}

// The client namespace's TCP counters (/proc/thread-self: a thread that entered the
// namespace; /proc/self/net would show the main thread's).
std::map<std::string, int64_t> tcp_counters(const std::string& ns) {
    std::map<std::string, int64_t> out;
    test::run_in_netns(ns, [&] {
        for (const char* file : {"/proc/thread-self/net/netstat", "/proc/thread-self/net/snmp"}) {
            std::ifstream in(file);
            std::string names, values;
            while (std::getline(in, names) && std::getline(in, values)) {
                std::istringstream n(names), v(values);
                std::string prefix, name, value;
                n >> prefix;
                v >> prefix;
                while (n >> name && v >> value) out[prefix + name] = std::stoll(value);
            }
        }
    });
    return out;
}

std::string counter_deltas(const std::map<std::string, int64_t>& before,
                           const std::map<std::string, int64_t>& after) {
    static const char* const kShown[] = {
        "TcpExt:TCPTimeouts",      "TcpExt:TCPLossProbes",     "TcpExt:TCPSackRecovery",
        "TcpExt:TCPSACKReneging",  "TcpExt:TCPRenoRecovery",   "TcpExt:TCPFastRetrans",
        "TcpExt:TCPLostRetransmit", "TcpExt:TCPACKSkippedSeq", "TcpExt:TCPDSACKOldSent",
        "TcpExt:PAWSEstab",        "TcpExt:TCPSpuriousRTOs",   "TcpExt:TCPLossUndo",
        "TcpExt:TCPLossFailures",  "TcpExt:TCPSackFailures",   "TcpExt:TCPRenoFailures",
        "TcpExt:TCPFullUndo",      "TcpExt:TCPPartialUndo",    "TcpExt:TCPLossProbeRecovery",
        "Tcp:RetransSegs"};
    std::string text;
    for (const char* name : kShown) {
        auto a = after.find(name);
        auto b = before.find(name);
        const int64_t d = (a == after.end() ? 0 : a->second) - (b == before.end() ? 0 : b->second);
        if (d != 0) text += fmt::format(" {}+{}", std::strchr(name, ':') + 1, d);
    }
    return text.empty() ? " (none)" : text;
}

int repeat_count() {
    const char* v = std::getenv("TCPFO_STALL_REPEAT");
    return v ? std::max(1, std::atoi(v)) : 1;
}

uint16_t next_port() {
    static uint16_t port = 7100;
    return port++;
}

struct Namespaces {
    std::string client = test::namespace_name("TCPFO_NS_CLIENT");
    std::string a = test::namespace_name("TCPFO_NS_A");
    std::string b = test::namespace_name("TCPFO_NS_B");
    std::string bridge = test::namespace_name("TCPFO_NS_BRIDGE");
    bool ok() const { return !client.empty() && !a.empty() && !b.empty() && !bridge.empty(); }
};

void set_client_sack(const Namespaces& ns, bool on) {
    const std::string cmd = fmt::format("ip netns exec {} sysctl -qw net.ipv4.tcp_sack={}", ns.client, on ? 1 : 0);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// One connection through a primary (A) that then dies, and the backup (B) that takes
// it over with the kit. The scenario's parts are public so each test drives its own.
class Takeover {
public:
    explicit Takeover(const Namespaces& ns) : ns_(ns), port_(next_port()) {}
    ~Takeover() { cleanup(); }

    const in_addr_t vip = test::ipv4("192.0.2.100");
    UniqueFd client, server_a, rebuilt;
    std::unique_ptr<BpfSnoop> snoop;
    std::optional<NudgeSender> sender;
    std::optional<RepairState> a_state;  // A's socket at the crash
    uint32_t client_base = 0, server_base = 0;
    tcpfo_conn_key key{};
    uint32_t client_mss = 0;
    test::TcpFlagWatch watch;

    // A serves the VIP; the client connects and both sides exchange a little. Then
    // A's state is read, as the backup's log would give it.
    void open_connection() {
        // Forget path MTUs learned by an earlier scenario (the PMTU lever lowers them).
        const std::string flush = fmt::format("ip -n {} route flush cache", ns_.client);
        ASSERT_EQ(std::system(flush.c_str()), 0) << flush;
        test::run_in_netns(ns_.a, [&] {
            auto claimed = VipAddress::claim("eth0", vip, 24);
            ASSERT_TRUE(claimed) << claimed.error().message;
            vip_a_.emplace(std::move(*claimed));
            listener_a_ = listen_on(port_);
            auto arp = ArpAnnouncer::open("eth0");
            ASSERT_TRUE(arp) << arp.error().message;
            ASSERT_TRUE(arp->announce(vip, 2));
        });
        ASSERT_TRUE(vip_a_ && listener_a_);
        test::run_in_netns(ns_.b, [&] {
            listener_b_ = listen_on(port_);  // the replica's listener: would reset strays
            auto attached = BpfSnoop::attach({"eth0", vip, port_});
            ASSERT_TRUE(attached) << attached.error().message;
            snoop = std::move(*attached);
            auto opened = NudgeSender::open();
            ASSERT_TRUE(opened) << opened.error().message;
            sender.emplace(std::move(*opened));
            auto arp = ArpAnnouncer::open("eth0");
            ASSERT_TRUE(arp) << arp.error().message;
            arp_b_.emplace(std::move(*arp));
        });
        ASSERT_TRUE(listener_b_ && snoop && sender && arp_b_);
        test::run_in_netns(ns_.client, [&] {
            ASSERT_EQ(test::TcpFlagWatch::start(watch, "eth0", port_), "");
            client.reset(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            const int one = 1;
            setsockopt(client.get(), SOL_TCP, TCP_NODELAY, &one, sizeof one);
            sockaddr_in to = test::socket_address("192.0.2.100", port_);
            ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0)
                << std::strerror(errno);
        });
        ASSERT_TRUE(client);
        server_a.reset(accept4(listener_a_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        ASSERT_TRUE(server_a);
        auto initial = snapshot_connection(server_a.get());
        ASSERT_TRUE(initial) << initial.error().message;
        server_base = initial->snd_una;
        client_base = initial->rcv_nxt;
        sockaddr_in local{};
        socklen_t len = sizeof(local);
        getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &len);
        key = {local.sin_addr.s_addr, vip, local.sin_port, htons(port_)};

        ASSERT_TRUE(send_pattern(client.get(), kClientBytesBefore, 0, kClientSalt));
        ASSERT_EQ(read_pattern(server_a.get(), kClientBytesBefore, 0, kClientSalt), "");
        ASSERT_TRUE(send_pattern(server_a.get(), kServerBytesBefore, 0, kServerSalt));
        ASSERT_EQ(read_pattern(client.get(), kServerBytesBefore, 0, kServerSalt), "");
        ASSERT_TRUE(wait_for([&] {
            return queued(client.get(), SIOCOUTQ) == 0 && queued(server_a.get(), SIOCOUTQ) == 0;
        }, 5000)) << "not everything was acknowledged";
        tcp_info info{};
        len = sizeof(info);
        ASSERT_EQ(getsockopt(client.get(), SOL_TCP, TCP_INFO, &info, &len), 0);
        client_mss = info.tcpi_snd_mss;
        auto state = snapshot_connection(server_a.get());
        ASSERT_TRUE(state) << state.error().message;
        a_state = *state;
    }

    // A loses power: its link first, then its socket, silently; the VIP goes with it.
    void crash_primary() {
        std::string cut;
        test::run_in_netns(ns_.bridge, [&] { cut = test::set_link_up("pa", false); });
        ASSERT_EQ(cut, "");
        a_cut_ = true;
        auto closed = close_silently(std::move(server_a));
        ASSERT_TRUE(closed) << closed.error().message;
        listener_a_.reset();
        auto released = vip_a_->release();
        ASSERT_TRUE(released) << released.error().message;
        vip_a_.reset();
    }

    // B: hold the connection, take over mode, claim and announce the VIP.
    void hold_and_claim() {
        ASSERT_TRUE(snoop->hold(key));
        snoop->set_takeover_mode(true);
        test::run_in_netns(ns_.b, [&] {
            auto claimed = VipAddress::claim("eth0", vip, 24);
            ASSERT_TRUE(claimed) << claimed.error().message;
            vip_b_.emplace(std::move(*claimed));
            ASSERT_TRUE(arp_b_->announce(vip, 3));
        });
        ASSERT_TRUE(vip_b_);
    }

    // The probe the takeover sends: built from what a backup knows (its repair plan).
    // `client_acked` may be stale: any sequence the client ever acknowledged works.
    ProbeSpec probe_spec(uint32_t client_acked, bool with_byte) const {
        ProbeSpec p;
        p.client_acked = client_acked;
        p.ack = a_state->rcv_nxt;
        p.window = uint16_t(a_state->rcv_wnd >> a_state->rcv_wscale);
        if (a_state->timestamps_ok) p.timestamps = TcpTimestamps{a_state->tsval, 0};
        p.with_byte = with_byte;
        return p;
    }

    // Sends the probe and waits for the client's answer in the hold record.
    std::optional<ClientPosition> probe(const ProbeSpec& spec, uint64_t* answered_after_ns = nullptr) {
        auto before = snoop->held(key);
        EXPECT_TRUE(before) << before.error().message;
        if (!before) return std::nullopt;
        uint8_t packet[kMaxServerSegmentBytes];
        const size_t len = build_probe_packet(key, spec, packet);
        const uint64_t t0 = now_ns();
        auto sent = sender->send_packet(key.client_addr, {packet, len});
        EXPECT_TRUE(sent) << sent.error().message;
        tcpfo_held_client now{};
        const bool answered = wait_for([&] {
            auto r = snoop->held(key);
            if (r) now = *r;
            return r && probe_answered(*before, now);
        }, 2000);
        EXPECT_TRUE(answered) << "the client did not answer the probe";
        if (!answered) return std::nullopt;
        if (answered_after_ns) *answered_after_ns = now_ns() - t0;
        return client_position(now);
    }

    // Rebuilds B's socket: the client's bytes up to what A held, the server's sequence
    // where the client really is.
    void rebuild(const ClientPosition& at) {
        RepairState s = *a_state;
        s.snd_una = s.snd_nxt = at.rcv_nxt;
        if (at.timestamps && seq_after(at.timestamps->tsecr, s.tsval)) s.tsval = at.timestamps->tsecr;
        test::run_in_netns(ns_.b, [&] {
            auto socket = rebuild_connection(s, {});
            ASSERT_TRUE(socket) << socket.error().message;
            rebuilt = std::move(*socket);
        });
        ASSERT_TRUE(rebuilt);
        ASSERT_TRUE(snoop->mark_rebuilt(key));
    }

    ResendContext resend_context(const ClientPosition& at) const {
        ResendContext c;
        c.key = key;
        c.seq = at.rcv_nxt;
        c.held_end = a_state->rcv_nxt;
        c.client_snd_nxt = at.snd_nxt;
        c.client_mss = client_mss;
        c.window = uint16_t(a_state->rcv_wnd >> a_state->rcv_wscale);
        if (a_state->timestamps_ok && at.timestamps) {
            auto tsval = socket_tsval(rebuilt.get());
            EXPECT_TRUE(tsval) << tsval.error().message;
            c.timestamps = TcpTimestamps{tsval ? *tsval : a_state->tsval, at.timestamps->tsval};
        }
        return c;
    }

    void cleanup() {
        watch.stop();
        if (snoop) {
            snoop->release(key);
            snoop->set_takeover_mode(false);
        }
        if (rebuilt) (void)close_silently(std::move(rebuilt));
        if (client) (void)close_silently(std::move(client));
        if (server_a) (void)close_silently(std::move(server_a));
        if (vip_b_) (void)vip_b_->release();
        if (vip_a_) (void)vip_a_->release();
        vip_a_.reset();
        vip_b_.reset();
        if (a_cut_) test::run_in_netns(ns_.bridge, [&] { test::set_link_up("pa", true); });
        a_cut_ = false;
        snoop.reset();
    }

private:
    const Namespaces& ns_;
    uint16_t port_;
    UniqueFd listener_a_, listener_b_;
    std::optional<VipAddress> vip_a_, vip_b_;
    std::optional<ArpAnnouncer> arp_b_;
    bool a_cut_ = false;
};

// (a) The probe's answer gives the client's exact snd_nxt and rcv_nxt; pure probes are
// answered once per 500 ms, one-byte probes every time.
TEST(Stall, ProbeAnswerIsTheClientsExactPosition) {
    Namespaces ns;
    ASSERT_TRUE(ns.ok()) << "run through tests/repair/run_repair_tests.sh (namespaces)";
    set_client_sack(ns, true);
    Takeover t(ns);
    ASSERT_NO_FATAL_FAILURE(t.open_connection());
    ASSERT_NO_FATAL_FAILURE(t.crash_primary());
    ASSERT_NO_FATAL_FAILURE(t.hold_and_claim());

    // A backup that knows nothing newer than the handshake still probes below the window.
    uint64_t answered_ns = 0;
    auto at = t.probe(t.probe_spec(t.server_base, false), &answered_ns);
    ASSERT_TRUE(at);
    auto real = snapshot_connection(t.client.get());
    ASSERT_TRUE(real) << real.error().message;
    EXPECT_EQ(at->snd_nxt, real->snd_nxt) << "client snd_nxt (TCP_QUEUE_SEQ - SIOCOUTQNSD)";
    EXPECT_EQ(at->rcv_nxt, real->rcv_nxt) << "client rcv_nxt (TCP_QUEUE_SEQ of the receive queue)";
    EXPECT_EQ(at->snd_nxt, t.client_base + kClientBytesBefore);
    EXPECT_EQ(at->rcv_nxt, t.server_base + kServerBytesBefore);
    // glibc's tcp_info stops before the byte counters; the kernel's goes on (append-only).
    struct {
        tcp_info base;
        uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
    } info{};
    static_assert(sizeof(tcp_info) == 104);
    socklen_t len = sizeof(info);
    ASSERT_EQ(getsockopt(t.client.get(), SOL_TCP, TCP_INFO, &info, &len), 0);
    ASSERT_EQ(len, sizeof(info));
    EXPECT_EQ(at->rcv_nxt - t.server_base, info.bytes_received) << "TCP_INFO agrees";
    EXPECT_EQ(at->snd_nxt - t.client_base, info.bytes_acked - 1)
        << "nothing outstanding: snd_nxt = snd_una (bytes_acked counts the SYN)";
    ASSERT_TRUE(at->timestamps);
    // tsecr is the last TSval the client took from A. getsockopt(TCP_TIMESTAMP) clears
    // the low bit (since 6.7 it flags microsecond timestamps), so A's snapshot can read
    // one below a TSval A sent in the same millisecond.
    EXPECT_FALSE(seq_after(at->timestamps->tsecr, t.a_state->tsval + 1))
        << "tsecr " << at->timestamps->tsecr << ", A's snapshot TSval " << t.a_state->tsval;

    // A second pure probe within 500 ms: not answered (tcp_invalid_ratelimit).
    auto first = t.snoop->held(t.key);
    ASSERT_TRUE(first);
    uint8_t packet[kMaxServerSegmentBytes];
    size_t plen = build_probe_packet(t.key, t.probe_spec(t.server_base, false), packet);
    ASSERT_TRUE(t.sender->send_packet(t.key.client_addr, {packet, plen}));
    const uint64_t sent_at = now_ns();
    sleep_until(sent_at + 100'000'000);
    auto second = t.snoop->held(t.key);
    ASSERT_TRUE(second);
    const double since_answer_ms = ms(first->last_ns, sent_at);
    if (since_answer_ms < 400) {
        EXPECT_EQ(second->pure_acks, first->pure_acks) << "a pure probe within 500 ms was answered";
    } else {
        std::printf("probe: rate-limit check skipped, the second probe left %.0f ms after the answer\n",
                    since_answer_ms);
    }
    const bool pure_rate_limited = second->pure_acks == first->pure_acks;

    // One-byte probes: answered every time, back to back.
    for (int i = 0; i < 3; i++) {
        auto again = t.probe(t.probe_spec(t.a_state->snd_una, true));
        ASSERT_TRUE(again) << "one-byte probe " << i;
        EXPECT_EQ(again->snd_nxt, real->snd_nxt);
        EXPECT_EQ(again->rcv_nxt, real->rcv_nxt);
        EXPECT_TRUE(again->sack_seen) << "the answer to old data carries a D-SACK block";
    }
    t.watch.stop();
    EXPECT_EQ(t.watch.resets(), 0u);
    auto stats = t.snoop->stats();
    std::printf("probe: answered in %.3f ms; second pure probe within 500 ms %s; 3 one-byte probes answered;"
                " hold dropped %llu client segments\n",
                answered_ns / 1e6, pure_rate_limited ? "not answered" : "ANSWERED",
                (unsigned long long)stats.held_dropped);
}

struct Scenario {
    bool sack;
    int k;        // client segments the dead primary took
    bool prompt;  // prompt (SACK block or dupacks), or leave it to the client's timers
    bool one_write = false;  // k segments in one write (a bulk client: one TSO skb)
    bool icmp = false;       // the PMTU lever instead of ACKs (lowers the client's path MTU)
    uint32_t write_bytes = 0;  // bytes per write; 0: one full segment (the client's MSS)
};

std::string scenario_name(const ::testing::TestParamInfo<Scenario>& info) {
    return fmt::format("{}_k{}{}{}_{}", info.param.sack ? "sack" : "nosack", info.param.k,
                       info.param.one_write ? "_onewrite" : "",
                       info.param.write_bytes ? fmt::format("_{}bytes", info.param.write_bytes) : "",
                       info.param.icmp ? "icmp" : info.param.prompt ? "prompt" : "timers");
}

class StallResend : public ::testing::TestWithParam<Scenario> {};

// (b) The client's missing bytes arrive at the rebuilt socket, every one in order.
TEST_P(StallResend, MissingBytesArriveInOrder) {
    const Scenario sc = GetParam();
    Namespaces ns;
    ASSERT_TRUE(ns.ok()) << "run through tests/repair/run_repair_tests.sh (namespaces)";
    set_client_sack(ns, sc.sack);
    for (int run = 0, runs = repeat_count(); run < runs; run++) {
        Takeover t(ns);
        ASSERT_NO_FATAL_FAILURE(t.open_connection());
        EXPECT_EQ(t.a_state->sack_ok, sc.sack);
        ASSERT_NO_FATAL_FAILURE(t.crash_primary());

        // The client sends k full segments into the void, one write each (an
        // interactive client), 2 ms apart: separate skbs, and less than a TLP timeout;
        // or all in one write (one skb of k segments).
        const auto counters_before = tcp_counters(ns.client);
        const size_t write_bytes = sc.write_bytes ? sc.write_bytes : t.client_mss;
        const size_t missing = size_t(sc.k) * write_bytes;
        if (sc.one_write) {
            ASSERT_TRUE(send_pattern(t.client.get(), missing, kClientBytesBefore, kClientSalt));
        } else {
            for (int i = 0; i < sc.k; i++) {
                if (i > 0) poll(nullptr, 0, 2);
                ASSERT_TRUE(send_pattern(t.client.get(), write_bytes,
                                         kClientBytesBefore + size_t(i) * write_bytes, kClientSalt));
            }
        }
        const uint64_t t_write = now_ns();
        sleep_until(t_write + silence_ms() * 1'000'000);

        ASSERT_NO_FATAL_FAILURE(t.hold_and_claim());
        auto at = t.probe(t.probe_spec(t.a_state->snd_una, false));
        ASSERT_TRUE(at);
        auto real = snapshot_connection(t.client.get());
        ASSERT_TRUE(real) << real.error().message;
        EXPECT_EQ(at->snd_nxt, real->snd_nxt);
        EXPECT_EQ(at->rcv_nxt, real->rcv_nxt);
        EXPECT_EQ(at->snd_nxt, t.a_state->rcv_nxt + uint32_t(missing)) << "L + what the client wrote";
        // What the hold saw before the socket existed: the probe's answer, and any
        // retransmission the client made meanwhile (dropped: it must come again).
        auto during_hold = t.snoop->held(t.key);
        ASSERT_TRUE(during_hold);
        ASSERT_NO_FATAL_FAILURE(t.rebuild(*at));

        ResendMethod method = ResendMethod::none;
        const ResendContext context = t.resend_context(*at);
        if (sc.icmp) {
            // The PMTU lever (resend_prompt.h): ICMP fragmentation needed, quoting the
            // client's segment at L, with an MTU one byte too small for its segments.
            uint8_t packet[kPmtuPromptBytes];
            const uint16_t mtu = pmtu_prompt_mtu(t.client_mss, t.a_state->timestamps_ok);
            const size_t len = build_pmtu_prompt(t.key, t.a_state->rcv_nxt, mtu, packet);
            ASSERT_TRUE(t.sender->send_packet(t.key.client_addr, {packet, len}));
        }
        if (sc.prompt) {
            auto sent = prompt_resend(*t.sender, context, t.a_state->sack_ok);
            ASSERT_TRUE(sent) << sent.error().message;
            method = *sent;
        }
        const uint64_t t_prompt = now_ns();

        // The rebuilt socket receives [L, N): every byte, in order.
        uint64_t t_first = 0;
        {
            pollfd p{t.rebuilt.get(), POLLIN, 0};
            ASSERT_GT(poll(&p, 1, 5000), 0) << "nothing arrived within 5 s";
            t_first = now_ns();
        }
        ASSERT_EQ(read_pattern(t.rebuilt.get(), missing, kClientBytesBefore, kClientSalt), "");
        const uint64_t t_full = now_ns();

        // Both directions go on: the rebuilt socket's sequence is where the client is.
        ASSERT_TRUE(send_pattern(t.rebuilt.get(), 1000, kServerBytesBefore, kServerSalt));
        ASSERT_EQ(read_pattern(t.client.get(), 1000, kServerBytesBefore, kServerSalt), "");
        ASSERT_TRUE(send_pattern(t.client.get(), 1000, kClientBytesBefore + missing, kClientSalt));
        ASSERT_EQ(read_pattern(t.rebuilt.get(), 1000, kClientBytesBefore + missing, kClientSalt), "");
        t.watch.stop();
        EXPECT_EQ(t.watch.resets(), 0u) << "a RST was on the client's link";
        EXPECT_EQ(t.watch.fins(), 0u);

        const auto counters_after = tcp_counters(ns.client);
        const char* how = sc.icmp ? "ICMP frag needed (PMTU)" : method == ResendMethod::sack_prompt ? "SACK prompt"
                          : method == ResendMethod::dupacks   ? "4 dupacks"
                          : sc.prompt                         ? "nothing (no valid prompt)"
                                                              : "timers only";
        std::printf("stall %-6s k=%-2d%s%s %-26s mss %u: first byte +%.1f ms, all %zu bytes +%.1f ms after the"
                    " prompt point (%.1f ms after the client's last write; prompt point at +%.1f ms; held %u"
                    " segments, %u pure ACKs); client:%s\n",
                    sc.sack ? "sack" : "nosack", sc.k, sc.one_write ? " (1 write)" : "",
                    sc.write_bytes ? fmt::format(" ({} B writes)", sc.write_bytes).c_str() : "", how, t.client_mss,
                    ms(t_prompt, t_first), missing, ms(t_prompt, t_full), ms(t_write, t_full),
                    ms(t_write, t_prompt), during_hold->segments, during_hold->pure_acks,
                    counter_deltas(counters_before, counters_after).c_str());
        std::fflush(stdout);
        ::testing::Test::RecordProperty(fmt::format("full_after_prompt_us_run{}", run),
                                        int((t_full - t_prompt) / 1000));
    }
    set_client_sack(ns, true);
}

INSTANTIATE_TEST_SUITE_P(Kit, StallResend,
                         ::testing::Values(Scenario{true, 1, true}, Scenario{true, 2, true},
                                           Scenario{true, 10, true}, Scenario{true, 10, true, true},
                                           Scenario{true, 1, false},
                                           Scenario{true, 2, false}, Scenario{true, 10, false},
                                           Scenario{false, 2, true}, Scenario{false, 3, true},
                                           Scenario{false, 4, true}, Scenario{false, 10, true},
                                           Scenario{false, 4, false}, Scenario{false, 10, false},
                                           Scenario{true, 1, false, false, true}, Scenario{true, 2, false, false, true},
                                           Scenario{false, 2, false, false, true},
                                           Scenario{true, 1, true, false, false, 100},
                                           Scenario{true, 1, false, false, true, 100}),
                         scenario_name);

}  // namespace
}  // namespace tcpfo
