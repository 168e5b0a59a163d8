#include "userd/node/start_decision.h"

#include <algorithm>

namespace tcpfo {

namespace {
// Three verdict times: a heartbeat or two lost on a loaded machine must not make a
// node claim a VIP that another holds. Starting is not what the clients wait on.
constexpr uint64_t kListenVerdicts = 3;
constexpr uint64_t kMinListenMs = 1500;
}  // namespace

StartDecision decide_start(NodeRole listed, const StartHearing& heard) {
    StartDecision d;
    // The one place that reads an epoch from heartbeats to decide a role: a peer that
    // announces a nonzero epoch has been a primary, or the backup of one, since it
    // started. (Heartbeats carry the sender's role too; leases will make "serving"
    // exact: userd/cluster/.)
    const bool someone_serves = heard.highest_peer_epoch > 0;
    if (listed == NodeRole::backup || someone_serves) {
        d.role = NodeRole::backup;
        d.epoch = 0;
        d.joined = listed == NodeRole::primary;
        return d;
    }
    d.role = NodeRole::primary;
    d.epoch = heard.highest_peer_epoch + 1;
    return d;
}

bool heard_enough(const StartHearing& heard) {
    return heard.highest_peer_epoch > 0 || (heard.peers > 0 && heard.peers_heard >= heard.peers);
}

uint64_t start_listen_ms(int heartbeat_ms, int dead_after) {
    const uint64_t verdict_ms = uint64_t(std::max(heartbeat_ms, 1)) * uint64_t(std::max(dead_after, 1));
    return std::max(kMinListenMs, verdict_ms * kListenVerdicts);
}

}  // namespace tcpfo
