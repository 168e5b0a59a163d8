// The lag trackers fed from real connections: a peer's outstanding bytes stay what
// tcpfo_replication_lag_bytes counts (forwarded - held, over the connections it holds),
// through retransmissions, a gap, two peers, a peer dropped and a connection forgotten,
// and its lag in time is that of its oldest byte waiting.
#include "userd/primary/lag_accounting.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

using namespace tcpfo;

namespace {

constexpr uint32_t kClientIsn = 5000;
constexpr uint32_t kServerIsn = 1000;
constexpr uint64_t kMs = 1000;
constexpr PeerId kA{0}, kB{1};

tcpfo_event make_event(uint8_t type, uint16_t client_port = 40000) {
    tcpfo_event ev{};
    ev.type = type;
    ev.key.client_addr = inet_addr("192.0.2.1");
    ev.key.vip_addr = inet_addr("192.0.2.100");
    ev.key.client_port = htons(client_port);
    ev.key.vip_port = htons(7000);
    ev.client_isn = kClientIsn;
    ev.server_isn = kServerIsn;
    return ev;
}

// What the status counts for peer `p` (primary_status.cpp, lag_bytes).
uint64_t lag_bytes(const std::vector<ConnReplicator*>& conns, PeerId p) {
    uint64_t lag = 0;
    for (const ConnReplicator* c : conns) {
        if (!c->requires_peer(p)) continue;
        const uint64_t fwd = std::max(c->forwarded_offset(), c->stable_offset());
        lag += fwd - std::min(c->peer_stable(p), fwd);
    }
    return lag;
}

struct Harness {
    LagAccounting lag{2};
    std::vector<uint8_t> bytes = std::vector<uint8_t>(1000, 7);

    void data(ConnReplicator& c, uint64_t offset, size_t n, uint64_t now_us) {
        auto ev = make_event(TCPFO_EV_DATA, ntohs(c.key().client_port));
        ev.seq = kClientIsn + 1 + uint32_t(offset);
        lag.before_change(c);
        c.on_event(ev, std::span(bytes).first(n), [](const Record&) {});
        lag.after_change(c, now_us);
    }
    void stable(ConnReplicator& c, PeerId p, uint64_t offset, uint64_t now_us) {
        lag.before_change(c);
        c.on_stable(p, offset);
        lag.after_change(c, now_us);
    }
    void drop(ConnReplicator& c, PeerId p, uint64_t now_us) {
        lag.before_change(c);
        c.drop_peer(p);
        lag.after_change(c, now_us);
    }
};

}  // namespace

TEST(LagAccounting, FollowsTheStatusLagBytesAndTheOldestByte) {
    Harness h;
    ConnReplicator one(1, make_event(TCPFO_EV_CONN_OPEN, 40001), {true, true});
    ConnReplicator two(2, make_event(TCPFO_EV_CONN_OPEN, 40002), {true, false});  // B joined later
    const std::vector<ConnReplicator*> conns{&one, &two};
    auto agree = [&] {
        EXPECT_EQ(h.lag.peer(kA).outstanding(), lag_bytes(conns, kA));
        EXPECT_EQ(h.lag.peer(kB).outstanding(), lag_bytes(conns, kB));
    };

    h.data(one, 0, 100, 10 * kMs);
    h.data(one, 0, 100, 11 * kMs);  // a retransmission: nothing new
    h.data(two, 0, 50, 12 * kMs);
    agree();
    EXPECT_EQ(h.lag.peer(kA).outstanding(), 150u);
    EXPECT_EQ(h.lag.peer(kB).outstanding(), 100u);
    EXPECT_EQ(h.lag.peer(kA).lag_us(20 * kMs), 10 * kMs);

    h.stable(one, kA, 100, 21 * kMs);  // A holds conn one; conn two's bytes still wait
    agree();
    EXPECT_EQ(h.lag.peer(kA).lag_us(30 * kMs), 18 * kMs);
    h.stable(two, kA, 50, 31 * kMs);
    agree();
    EXPECT_EQ(h.lag.peer(kA).lag_us(40 * kMs), 0u) << "A holds everything forwarded to it";
    EXPECT_EQ(h.lag.peer(kB).lag_us(40 * kMs), 30 * kMs) << "B still holds nothing";

    // A gap: bytes above it forwarded, but counted forwarded (as by the status) once
    // the backups hold them.
    h.data(one, 200, 100, 41 * kMs);
    h.data(one, 100, 100, 42 * kMs);  // the retransmission filling it
    agree();
    h.stable(one, kA, 300, 43 * kMs);
    h.stable(one, kB, 300, 43 * kMs);
    agree();
    EXPECT_EQ(h.lag.peer(kA).outstanding(), 0u);
    EXPECT_EQ(h.lag.peer(kB).outstanding(), 0u);

    // Dropped by B (refused): what it still waited for is written off.
    h.data(one, 300, 100, 50 * kMs);
    h.drop(one, kB, 51 * kMs);
    agree();
    EXPECT_EQ(h.lag.peer(kB).lag_us(60 * kMs), 0u);
    EXPECT_EQ(h.lag.peer(kA).lag_us(60 * kMs), 10 * kMs);

    // Forgotten (reset, say): nothing of it waits any more.
    h.lag.forget(one);
    EXPECT_EQ(h.lag.peer(kA).outstanding(), 0u);
    EXPECT_EQ(h.lag.peer(kA).lag_us(60 * kMs), 0u);
}
