#include "userd/node/start_listen.h"

#include "userd/base/log.h"
#include "userd/cluster/heartbeat.h"

namespace tcpfo {

Result<StartHearing> listen_before_start(EventLoop& loop, const Options& options) {
    auto heartbeat = Heartbeat::open(loop, Heartbeat::Config::from(options, NodeRole::backup), nullptr);
    if (!heartbeat) return std::unexpected(heartbeat.error());
    const uint64_t listen_ms = start_listen_ms(options.heartbeat_ms, options.dead_after);
    const uint64_t deadline = monotonic_ms() + listen_ms;
    StartHearing heard;
    // The loop turns meanwhile (the control socket answers, and the heartbeat thread
    // sees the daemon alive); it has nothing else to do yet.
    while (monotonic_ms() < deadline) {
        (*heartbeat)->main_loop_alive();
        heard.highest_peer_epoch = (*heartbeat)->highest_peer_epoch();
        if (heard.highest_peer_epoch > 0) break;
        if (auto r = loop.run_once(options.heartbeat_ms); !r) return std::unexpected(r.error());
    }
    log_info("failoverd: listened {} ms for a serving peer: {}", listen_ms,
             heard.highest_peer_epoch > 0 ? fmt::format("heard epoch {}", heard.highest_peer_epoch)
                                          : std::string("none heard"));
    return heard;
}

}  // namespace tcpfo
