// What failoverd adds to every node's status: the command line and its process.
#pragma once

#include <cstdint>

#include "userd/auth/drop_log.h"
#include "userd/cluster/heartbeat.h"
#include "userd/config/options.h"
#include "userd/hooks/hooks.h"
#include "userd/status/node_status.h"

namespace tcpfo {

void fill_common_status(NodeStatus& status, const Options& options, uint64_t started_us);
// The BPF hooks' counters, named as in the --verbose status line.
std::vector<std::pair<std::string, uint64_t>> hook_counters(const HookStats& stats);
// The keys in force (`keys` null: not authenticated) and the drops counted so far.
AuthStatus auth_status(const KeyRing* keys, const DropLog* heartbeat_drops, const DropLog& stream_drops);
// The lease and the vote as the heartbeat thread last published them; `silent`: why the
// node fell silent ("" if it did not). `primary`: report the lease it holds.
LeaseStatus lease_status(const Heartbeat::LeaseView& view, bool primary, const std::string& silent);
// The peers as their heartbeats last described them.
std::vector<ClusterPeerStatus> cluster_status(const std::vector<Heartbeat::PeerView>& views);

}  // namespace tcpfo
