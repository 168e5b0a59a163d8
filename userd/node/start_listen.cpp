#include "userd/node/start_listen.h"

#include "userd/base/log.h"
#include "userd/cluster/heartbeat.h"

namespace tcpfo {

Result<StartHearing> listen_before_start(EventLoop& loop, const Options& options) {
    auto heartbeat = Heartbeat::open(loop, Heartbeat::Config::from(options, NodeRole::backup), Heartbeat::Callbacks{});
    if (!heartbeat) return std::unexpected(heartbeat.error());
    // After the open: a peer counts as heard once heard after this (the open dates every
    // peer's silence from itself).
    const uint64_t opened_ms = monotonic_ms();
    const uint64_t listen_ms = start_listen_ms(options.heartbeat_ms, options.dead_after);
    const uint64_t deadline = opened_ms + listen_ms;
    StartHearing heard;
    heard.peers = options.peers.size();
    // The loop turns meanwhile (the control socket answers, and the heartbeat thread
    // sees the daemon alive); it has nothing else to do yet.
    uint64_t now = opened_ms;
    while (now < deadline) {
        (*heartbeat)->main_loop_alive();
        heard.highest_peer_epoch = (*heartbeat)->highest_peer_epoch();
        // A peer's silence counts from the open until it is first heard.
        heard.peers_heard = 0;
        for (size_t i = 0; i < heard.peers; ++i)
            if ((*heartbeat)->silence_ms(PeerId{uint16_t(i)}) < now - opened_ms) ++heard.peers_heard;
        if (heard_enough(heard)) break;
        if (auto r = loop.run_once(options.heartbeat_ms); !r) return std::unexpected(r.error());
        now = monotonic_ms();
    }
    log_info("failoverd: listened {} ms for a serving peer: {} ({} of {} peer(s) heard)", now - opened_ms,
             heard.highest_peer_epoch > 0 ? fmt::format("heard epoch {}", heard.highest_peer_epoch)
                                          : std::string("none serves"),
             heard.peers_heard, heard.peers);
    return heard;
}

}  // namespace tcpfo
