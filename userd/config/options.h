// failoverd's command line, and the options the daemon runs with once the command line
// and the config file (config_file.h) are merged.
#pragma once

#include <netinet/in.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "userd/auth/key_ring.h"
#include "userd/base/error.h"
#include "userd/base/inet_address.h"
#include "userd/config/node_list.h"
#include "userd/config/settings.h"
#include "userd/protocol/record_codec.h"
#include "userd/status/control_protocol.h"

namespace tcpfo {

// How the node was described: the symmetric form (--id/--node or a config file) says
// which nodes there are; role, listen and peers are then derived (start_role()).
struct ClusterMembership {
    int own_id = 0;
    int own_priority = kDefaultNodePriority;
    std::vector<NodeEntry> nodes;     // every node, the witness included
    bool two_node = false;            // no witness: no lease, no partition safety (like keepalived)
    std::optional<int> witness_id;    // the witness node's id, if there is one
};

struct Options {
    NodeRole role = NodeRole::primary;
    Prefix vip;
    std::string dev;
    uint16_t port = 0;
    sockaddr_in listen{};
    std::optional<sockaddr_in> listen_second;  // a second path's local address (--transport sctp)
    std::vector<sockaddr_in> peers;
    std::vector<std::optional<sockaddr_in>> peers_second;  // one per peer: its second address, if any
    Transport transport = Transport::tcp;      // --transport
    std::optional<sockaddr_in> replica;
    int heartbeat_ms = 10;
    int dead_after = 3;
    // Leases (docs/architecture.md, "Leases and fencing"): enforced with a witness (or,
    // later, three or more nodes); not in two-node mode (--two-node, the shorthand).
    bool lease_enforced = false;
    int lease_ms = 30;           // heartbeat_ms x dead_after unless given
    size_t quorum = 1;           // a majority of the nodes, the witness included
    bool is_witness = false;     // failoverd --witness: votes only (no VIP, no replica, no hooks)
    std::optional<sockaddr_in> witness;  // a data node's witness: heartbeats go there too
    std::string ready_file;
    bool verbose = false;
    int realtime_priority = 10;  // SCHED_FIFO priority of heartbeats and takeovers; 0: normal scheduler
    int nice = -10;              // the replication path's nice value (normal scheduler)
    std::string control_path = kDefaultControlPath;  // the control socket (failoverctl)
    std::optional<sockaddr_in> metrics;               // --metrics: off unless given
    HooksBackend hooks = HooksBackend::bpf;           // --hooks
    std::optional<ClusterMembership> cluster;         // set by the symmetric form only
    // --preempt: a returning node of higher priority takes the role back by a planned
    // handover once caught up (symmetric form only: it needs the priorities).
    bool preempt = false;
    // The shared key file (--key-file, key_file): empty when peers are not authenticated.
    std::string key_file;
    // Its keys, loaded by resolve_options; a reload (SIGHUP) installs new ones. Null
    // without a key file.
    std::shared_ptr<KeyRing> keys;
    // Health checks of this node's service, their targets resolved (a target left out
    // is 127.0.0.1 at `port`), and where state changes are told (docs/operations.md,
    // "Health checks"): empty when unset.
    std::vector<CheckSpec> checks;
    std::string notify;
    std::string notify_fifo;
};

// The command line as written: its values (Settings), or --help, or --config-test FILE.
struct CommandLine {
    Settings settings;
    bool help_requested = false;
    std::optional<std::string> config_test_file;
};
// Errors are about the command line itself (an unknown flag, a bad value): usage errors.
Result<CommandLine> parse_command_line(int argc, char** argv);

// Loads --config if given, lets the command line override it, and checks the whole:
// required values, the node list, and that the runtime can run it (start_role()).
Result<Options> resolve_options(const Settings& command_line);

// Both steps at once. `--help` sets help_requested and no options; so does
// --config-test (config_test_file).
struct ParseOutcome {
    std::optional<Options> options;
    bool help_requested = false;
    std::optional<std::string> config_test_file;
};
Result<ParseOutcome> parse_options(int argc, char** argv);

// `failoverd --config-test FILE`: the one line to print, as if failoverd had been
// started with `--config FILE` alone. Touches nothing but the file.
Result<std::string> config_test_verdict(const std::string& file);

const char* usage_text();

}  // namespace tcpfo
