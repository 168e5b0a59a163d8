#include "userd/takeover/takeover.h"

#include <arpa/inet.h>
#include <fcntl.h>

#include "userd/base/log.h"

namespace tcpfo {

namespace {

// How long the replica may take to read the log's tail before we rebuild anyway.
// Rebuilding does not need the replica to have caught up (the splice skips output
// the client already has); waiting only makes the first bytes after takeover come
// from a warm replica.
constexpr uint64_t kDrainBudgetMs = 50;

}  // namespace

Result<TakeoverOutcome> take_over(EventLoop& loop, const Options& options,
                                  std::map<uint64_t, std::unique_ptr<ReplicaFeed>>& feeds, BpfSnoop& snoop,
                                  const ArpAnnouncer& announcer,
                                  std::function<void(uint64_t conn_id)> on_splice_done) {
    const uint64_t start = monotonic_ms();

    // Drain: hand the replica every logged byte (and FIN) before it speaks.
    for (;;) {
        bool drained = true;
        for (auto& [id, feed] : feeds) {
            feed->pump();
            drained &= feed->broken() || feed->input_drained();
        }
        if (drained || monotonic_ms() - start > kDrainBudgetMs) break;
        (void)loop.run_once(1);
    }
    const uint64_t drained_at = monotonic_ms();

    // Rebuild every connection before the VIP is local: a client segment must never
    // meet a VIP without its socket (it would be answered with a reset).
    struct Rebuilt {
        uint64_t id;
        UniqueFd socket;
    };
    std::vector<Rebuilt> rebuilt;
    size_t skipped = 0;
    for (auto& [id, feed] : feeds) {
        if (feed->broken()) {
            ++skipped;
            continue;
        }
        if (!feed->input_drained())
            log_warn("{}: replica has not read the whole log yet; rebuilding anyway", feed->name());
        const RepairState state =
            repair_state_for(feed->conn(), feed->log(), feed->output(), feed->client, monotonic_ms());
        auto socket = rebuild_connection(state, {});
        if (!socket) {
            log_error("{}: can't rebuild: {}", feed->name(), socket.error().message);
            ++skipped;
            continue;
        }
        // The splice drives it from the event loop.
        fcntl(socket->get(), F_SETFL, fcntl(socket->get(), F_GETFL) | O_NONBLOCK);
        const ConnOpenRecord& c = feed->conn();
        tcpfo_conn_key key{c.client_addr, c.vip_addr, htons(c.client_port), htons(c.vip_port)};
        if (auto r = snoop.mark_rebuilt(key); !r) log_warn("{}: {}", feed->name(), r.error().message);
        rebuilt.push_back({id, std::move(*socket)});
    }
    const uint64_t rebuilt_at = monotonic_ms();

    auto vip = VipAddress::claim(options.dev, options.vip.addr, options.vip.length);
    if (!vip) return fail("takeover: can't claim VIP: {}", vip.error().message);
    if (auto r = announcer.announce(options.vip.addr); !r)
        log_warn("takeover: {}", r.error().message);
    // Each client tells us at once how far it really got (and its window).
    for (auto& r : rebuilt)
        if (auto ack = request_ack(r.socket.get()); !ack) log_warn("takeover: {}", ack.error().message);
    const uint64_t claimed_at = monotonic_ms();

    TakeoverOutcome outcome{std::move(*vip), {}, rebuilt.size(), skipped, drained_at - start,
                            rebuilt_at - drained_at, claimed_at - rebuilt_at};
    for (auto& r : rebuilt) {
        ReplicaFeed& feed = *feeds.at(r.id);
        ReplicaOutput& out = feed.output();
        ConnectionSplice::Start s;
        s.name = feed.name();
        s.client = std::move(r.socket);
        s.replica = feed.release_replica_socket();
        s.unacked = out.unacked();
        s.skip_replica_bytes = out.acked() > out.produced() ? out.acked() - out.produced() : 0;
        s.replica_output_ended = out.eof();
        s.client_input_ended = feed.input_shut();
        const uint64_t id = r.id;
        auto splice = ConnectionSplice::open(loop, std::move(s), [on_splice_done, id] { on_splice_done(id); });
        if (!splice) {
            log_error("{}: can't splice: {}", feed.name(), splice.error().message);
            continue;
        }
        outcome.splices.emplace(id, std::move(*splice));
    }
    feeds.clear();
    return outcome;
}

}  // namespace tcpfo
