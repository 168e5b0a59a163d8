// What failoverd adds to every node's status: the command line and its process.
#pragma once

#include <cstdint>

#include "userd/config/options.h"
#include "userd/hooks/hooks.h"
#include "userd/status/node_status.h"

namespace tcpfo {

void fill_common_status(NodeStatus& status, const Options& options, uint64_t started_us);
// The BPF hooks' counters, named as in the --verbose status line.
std::vector<std::pair<std::string, uint64_t>> hook_counters(const HookStats& stats);

}  // namespace tcpfo
