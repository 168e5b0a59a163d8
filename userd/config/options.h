// failoverd's command line.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <vector>

#include "userd/base/error.h"
#include "userd/base/inet_address.h"
#include "userd/config/node_list.h"
#include "userd/protocol/record_codec.h"
#include "userd/status/control_protocol.h"

namespace tcpfo {

struct Options {
    NodeRole role = NodeRole::primary;
    Prefix vip;
    std::string dev;
    uint16_t port = 0;
    sockaddr_in listen{};
    std::vector<sockaddr_in> peers;
    std::optional<sockaddr_in> replica;
    int heartbeat_ms = 10;
    int dead_after = 3;
    std::string ready_file;
    bool verbose = false;
    int realtime_priority = 10;  // SCHED_FIFO priority of heartbeats and takeovers; 0: normal scheduler
    int nice = -10;              // the replication path's nice value (normal scheduler)
    std::string control_path = kDefaultControlPath;  // the control socket (failoverctl)
};

// Returns the options, or an error naming the bad argument. `--help` is reported as
// an Error whose message is the usage text and `help_requested` set.
struct ParseOutcome {
    std::optional<Options> options;
    bool help_requested = false;
};
Result<ParseOutcome> parse_options(int argc, char** argv);
const char* usage_text();

}  // namespace tcpfo
