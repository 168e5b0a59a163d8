// What one source of configuration (the command line, or the config file) said, before
// the two are merged and checked for completeness. Every value is checked for its own
// range where it is read; what needs the whole picture (required values, the node
// list, the start role) is checked once, on the merge (options.cpp).
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <vector>

#include "userd/base/inet_address.h"
#include "userd/config/node_list.h"
#include "userd/health/check_spec.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

// The ranges of the numeric settings, shared by the flags and the file's keys.
struct IntRange {
    long long min, max;
};
inline constexpr IntRange kPortRange{1, 65535};
inline constexpr IntRange kHeartbeatMsRange{1, 10000};
inline constexpr IntRange kDeadAfterRange{1, 1000};
inline constexpr IntRange kRealtimePriorityRange{0, 99};
inline constexpr IntRange kNiceRange{-20, 19};
inline constexpr IntRange kLeaseMsRange{1, 60000};

// "70000 is not a number from 1 to 65535" (the caller puts the flag or key in front).
Result<int> check_range(long long value, IntRange range);
// An interface name the kernel could have (1 to 15 bytes).
Result<std::string> check_dev(std::string_view name);
// A unix socket path that fits sockaddr_un.
Result<std::string> check_control_path(std::string_view path);
// HOST:PORT with the port required.
Result<sockaddr_in> parse_replica(std::string_view text);
// --metrics: ADDR:PORT, the port required (ADDR 0.0.0.0 for every address).
Result<sockaddr_in> parse_metrics_address(std::string_view text);

// --hooks: which kernel hooks snoop and clamp (userd/hooks/open_hooks.h).
enum class HooksBackend { bpf, kmod, automatic };
// "bpf", "kmod" or "auto".
Result<HooksBackend> parse_hooks_backend(std::string_view text);
const char* to_string(HooksBackend backend);

// --transport: what carries the replication stream (userd/transport/).
enum class Transport { tcp, sctp };
// "tcp" or "sctp".
Result<Transport> parse_transport(std::string_view text);
const char* to_string(Transport transport);

struct Settings {
    // The two-node shorthand: command line only.
    std::optional<NodeRole> role;
    std::optional<sockaddr_in> listen;
    std::optional<sockaddr_in> listen_second;            // --listen ADDR,ADDR2
    std::vector<sockaddr_in> peers;
    std::vector<std::optional<sockaddr_in>> peers_second;  // --peer ADDR,ADDR2: one per peer

    // The symmetric form.
    std::optional<int> id;
    std::vector<NodeEntry> nodes;     // empty: not given by this source
    std::optional<int> priority;      // this node's
    std::optional<bool> two_node;
    std::optional<bool> witness;      // this node is the witness
    std::optional<int> witness_id;    // which node of the list is the witness
    std::optional<bool> preempt;      // --preempt, `preempt = true`

    // Both.
    std::optional<Prefix> vip;
    std::optional<std::string> dev;
    std::optional<int> port;
    std::optional<sockaddr_in> replica;
    std::optional<int> heartbeat_ms;
    std::optional<int> dead_after;
    std::optional<int> lease_ms;
    std::optional<std::string> ready_file;
    std::optional<int> realtime_priority;
    std::optional<int> nice;
    std::optional<std::string> control_path;
    std::optional<bool> verbose;
    std::optional<sockaddr_in> metrics;
    std::optional<HooksBackend> hooks;
    std::optional<Transport> transport;
    std::optional<std::string> key_file;  // the shared key that authenticates peers
    // Health checks of the node's own service ([[check]] tables; config file only).
    std::vector<CheckSpec> checks;        // empty: not given by this source
    std::optional<std::string> notify;       // a program run on every state change
    std::optional<std::string> notify_fifo;  // a FIFO that gets one line per change

    std::optional<std::string> config_file;  // command line only
};

// `over` wins where it has a value; its node list, if it has one, replaces `under`'s
// whole list (a node's entry is one thing: merging two lists entry by entry would
// make a node whose address came from one source and priority from the other).
Settings merge_settings(const Settings& under, const Settings& over);

}  // namespace tcpfo
