#include "userd/config/options.h"

#include <getopt.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "userd/auth/key_file.h"
#include "userd/config/config_file.h"

namespace tcpfo {
namespace {

Result<int> parse_int(std::string_view flag, std::string_view text, IntRange range) {
    long long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < range.min || value > range.max)
        return fail("{}: '{}' is not a number from {} to {}", flag, text, range.min, range.max);
    return int(value);
}

template <class T>
Result<T> with_flag(std::string_view flag, Result<T> r) {
    if (!r) return fail("{}: {}", flag, r.error().message);
    return r;
}

template <class T>
Result<void> set(std::optional<T>& into, Result<T> value) {
    if (!value) return std::unexpected(value.error());
    into = std::move(*value);
    return {};
}

bool uses_shorthand(const Settings& s) { return s.role || s.listen || !s.peers.empty(); }
bool uses_symmetric_form(const Settings& s) {
    return s.id || !s.nodes.empty() || s.priority || s.two_node || s.witness || s.witness_id || s.preempt ||
           s.config_file;
}

// Values the two forms share, with their defaults.
void fill_common(Options& o, const Settings& s) {
    o.replica = s.replica;
    if (s.heartbeat_ms) o.heartbeat_ms = *s.heartbeat_ms;
    if (s.dead_after) o.dead_after = *s.dead_after;
    // The lease follows failure detection unless given (docs/architecture.md, "Leases
    // and fencing": the timing rule).
    o.lease_ms = s.lease_ms.value_or(o.heartbeat_ms * o.dead_after);
    if (s.ready_file) o.ready_file = *s.ready_file;
    if (s.realtime_priority) o.realtime_priority = *s.realtime_priority;
    if (s.nice) o.nice = *s.nice;
    if (s.control_path) o.control_path = *s.control_path;
    if (s.verbose) o.verbose = *s.verbose;
    o.metrics = s.metrics;
    if (s.hooks) o.hooks = *s.hooks;
    if (s.transport) o.transport = *s.transport;
    if (s.key_file) o.key_file = *s.key_file;
    o.checks = s.checks;
    if (s.notify) o.notify = *s.notify;
    if (s.notify_fifo) o.notify_fifo = *s.notify_fifo;
}

// A check without a target probes this node's service: 127.0.0.1 at --port, or the
// port given alone ("127.0.0.2" keeps --port; port 0 in a target means --port).
void resolve_check_targets(Options& o) {
    for (CheckSpec& check : o.checks) {
        if (check.kind == CheckKind::script) continue;
        if (!check.target) check.target = make_endpoint(htonl(INADDR_LOOPBACK), o.port);
        else if (check.target->sin_port == 0) check.target->sin_port = htons(o.port);
    }
}

// The keys of --key-file/key_file, read once here so that a bad key file stops the
// start (and --config-test) with one line naming it.
Result<Options> with_keys(Result<Options> o) {
    if (!o || o->key_file.empty()) return o;
    auto keys = load_key_file(o->key_file);
    if (!keys) return std::unexpected(keys.error());
    o->keys = std::make_shared<KeyRing>(std::move(*keys));
    return o;
}

// The lease against failure detection (docs/architecture.md, "Leases and fencing"):
// shorter than detection, a primary would fall silent on a hiccup its backup does not
// even notice; shorter than two heartbeats, on every late one.
Result<void> check_lease_timing(const Options& o, const Settings& s) {
    if (!o.lease_enforced) return {};
    const int detection = o.heartbeat_ms * o.dead_after;
    const std::string_view what = s.lease_ms ? "--lease-ms (lease_ms)" : "the lease (heartbeat_ms x dead_after)";
    if (o.lease_ms < detection)
        return fail("{}: {} ms is shorter than failure detection (--heartbeat-ms {} x --dead-after {} = {} ms); a "
                    "primary would fall silent before its backup notices anything",
                    what, o.lease_ms, o.heartbeat_ms, o.dead_after, detection);
    if (o.lease_ms < 2 * o.heartbeat_ms)
        return fail("{}: {} ms is shorter than two heartbeats (--heartbeat-ms {}); every late heartbeat would "
                    "silence the primary", what, o.lease_ms, o.heartbeat_ms);
    return {};
}

// A second address is a second path, which only SCTP can use: a TCP stream rides
// one path, and heartbeats heard on the other would hide its failure.
Result<void> check_second_addresses(const Options& o) {
    const bool any = o.listen_second ||
                     std::any_of(o.peers_second.begin(), o.peers_second.end(), [](const auto& a) { return bool(a); });
    if (any && o.transport != Transport::sctp)
        return fail("a second node address (ADDR,ADDR2) needs --transport sctp (transport = \"sctp\"): a TCP "
                    "replication stream rides one path");
    return {};
}

// A majority of the nodes, the witness included.
size_t majority(size_t nodes) { return nodes / 2 + 1; }

// --witness --id ID --node ...: votes only. No VIP, no replica, no hooks.
Result<Options> resolve_witness(const Settings& s, const std::vector<NodeEntry>& data_nodes) {
    if (s.two_node.value_or(false))
        return fail("--witness: a witness serves a cluster that is not --two-node (two_node)");
    if (data_nodes.size() != 2)
        return fail("--witness: {} other node(s) in the list; a witness serves two nodes (issue 9: more backups "
                    "need no witness)", data_nodes.size());
    Options o;
    o.is_witness = true;
    o.role = NodeRole::backup;  // unused: a witness has no data role
    for (const NodeEntry& n : s.nodes)
        if (n.id == *s.id) {
            o.listen = n.address;
            o.listen_second = n.second_address;
        }
    for (const NodeEntry& n : data_nodes) {
        o.peers.push_back(n.address);
        o.peers_second.push_back(n.second_address);
    }
    fill_common(o, s);
    o.lease_enforced = true;
    o.quorum = majority(s.nodes.size());
    if (auto r = check_lease_timing(o, s); !r) return std::unexpected(r.error());
    ClusterMembership cluster;
    cluster.own_id = *s.id;
    cluster.nodes = s.nodes;
    cluster.witness_id = *s.id;
    for (const NodeEntry& n : s.nodes)
        if (n.id == *s.id) cluster.own_priority = n.priority.value_or(kDefaultNodePriority);
    o.cluster = std::move(cluster);
    return o;
}

// --role/--listen/--peer: the two-node shorthand, checked as it always was. It has no
// witness: two-node mode (no leases), as keepalived's two-node VRRP.
Result<Options> resolve_shorthand(const Settings& s) {
    if (!s.role) return fail("--role is required");
    if (!s.vip) return fail("--vip is required");
    if (!s.dev) return fail("--dev is required");
    if (!s.port) return fail("--port is required");
    if (!s.listen) return fail("--listen is required");
    if (s.peers.empty()) return fail("at least one --peer is required");
    if (s.peers.size() > kMaxPeers) return fail("at most {} --peer options", kMaxPeers);
    if (*s.role == NodeRole::backup && !s.replica) return fail("--replica is required for a backup");
    if (*s.role == NodeRole::backup && s.peers.size() != 1) return fail("a backup takes exactly one --peer (the primary)");
    Options o;
    o.role = *s.role;
    o.vip = *s.vip;
    o.dev = *s.dev;
    o.port = uint16_t(*s.port);
    o.listen = *s.listen;
    o.listen_second = s.listen_second;
    o.peers = s.peers;
    o.peers_second = s.peers_second;
    o.peers_second.resize(o.peers.size());
    fill_common(o, s);
    if (auto r = check_second_addresses(o); !r) return std::unexpected(r.error());
    return o;
}

// --id/--node, from the command line, the config file or both (merged already).
Result<Options> resolve_symmetric(const Settings& s) {
    // A missing value may be missing from either source: name both.
    auto missing = [&](std::string_view flag, std::string_view key) {
        if (s.config_file) return fail("{} is required (or {} in {})", flag, key, *s.config_file);
        return fail("{} is required", flag);
    };
    if (!s.id) return missing("--id", "id");
    if (s.nodes.empty()) return missing("--node", "[[node]] tables");
    if (auto r = validate_node_list(s.nodes, *s.id); !r) return std::unexpected(r.error());
    // Which node is the witness: --witness-id, or this one with --witness.
    std::optional<int> witness_id = s.witness_id;
    if (s.witness.value_or(false)) {
        if (witness_id && *witness_id != *s.id)
            return fail("--witness: this node is node {}, but --witness-id (witness_id) names node {} as the witness",
                        *s.id, *witness_id);
        witness_id = *s.id;
    }
    if (witness_id && std::none_of(s.nodes.begin(), s.nodes.end(), [&](const NodeEntry& n) { return n.id == *witness_id; }))
        return fail("--witness-id (witness_id): node {} is not in the node list", *witness_id);
    std::vector<NodeEntry> data_nodes;
    for (const NodeEntry& n : s.nodes)
        if (!witness_id || n.id != *witness_id) data_nodes.push_back(n);
    if (witness_id && *witness_id == *s.id) return resolve_witness(s, data_nodes);
    if (witness_id && s.two_node.value_or(false))
        return fail("--two-node (two_node) and --witness-id (witness_id): a cluster with a witness is not a "
                    "two-node cluster; say one of them");
    if (data_nodes.size() > 2 && s.two_node.value_or(false))
        return fail("--two-node (two_node): {} nodes elect by a majority of their own; two-node mode (no leases) is "
                    "for two nodes only", data_nodes.size());
    if (!witness_id && data_nodes.size() == 2 && !s.two_node.value_or(false))
        return fail("2 nodes and no witness: name a witness node with --witness-id (witness_id), running "
                    "`failoverd --witness`, or say --two-node (two_node) to run without partition safety, as "
                    "keepalived does");
    if (!s.vip) return missing("--vip", "vip");
    if (!s.dev) return missing("--dev", "dev");
    if (!s.port) return missing("--port", "port");
    auto start = start_role(data_nodes, *s.id, s.priority);
    if (!start) return std::unexpected(start.error());
    // Required on the node that starts as the backup only; accepted on the other,
    // since roles will move (issue 9) and a primary then needs its replica too.
    if (start->role == NodeRole::backup && !s.replica)
        return fail("--replica is required on node {}, which starts as the backup (node {} starts as the primary)",
                    *s.id, start->first_primary_id);
    Options o;
    o.role = start->role;
    o.vip = *s.vip;
    o.dev = *s.dev;
    o.port = uint16_t(*s.port);
    o.listen = start->listen;
    o.listen_second = start->listen_second;
    o.peers = start->peers;
    o.peers_second = start->peers_second;
    fill_common(o, s);
    if (auto r = check_second_addresses(o); !r) return std::unexpected(r.error());
    ClusterMembership cluster;
    cluster.own_id = *s.id;
    cluster.nodes = s.nodes;
    cluster.two_node = s.two_node.value_or(false);
    cluster.witness_id = witness_id;
    for (const NodeEntry& n : s.nodes) {
        if (n.id == *s.id) cluster.own_priority = s.priority.value_or(n.priority.value_or(kDefaultNodePriority));
        if (witness_id && n.id == *witness_id) o.witness = n.address;
    }
    o.cluster = std::move(cluster);
    o.preempt = s.preempt.value_or(false);
    o.lease_enforced = !o.cluster->two_node;
    o.quorum = o.lease_enforced ? majority(s.nodes.size()) : 1;
    if (auto r = check_lease_timing(o, s); !r) return std::unexpected(r.error());
    return o;
}

}  // namespace

const char* usage_text() {
    return "usage: failoverd --id ID --node ID=ADDR[,ADDR2][:PORT] --node ID=ADDR[,ADDR2][:PORT] [--node ...]\n"
           "                 --vip ADDR/PREFIX --dev IFACE --port PORT [--priority N] [--replica HOST:PORT]\n"
           "                 --witness-id ID | --two-node [--lease-ms N] [--control PATH] [--config FILE]\n"
           "                 [--heartbeat-ms N] [--dead-after N] [--ready-file PATH] [--rt-priority N] [--nice N]\n"
           "                 [--metrics ADDR:PORT] [--verbose] [--key-file PATH] [--hooks bpf|kmod|auto]\n"
           "                 [--preempt] [--transport tcp|sctp]\n"
           "       failoverd --witness --id ID --node ... [--control PATH] [--lease-ms N] [--key-file PATH]\n"
           "       failoverd --config-test FILE\n"
           "       failoverd --role primary|backup --listen ADDR[,ADDR2][:PORT] --peer ADDR[,ADDR2][:PORT] [...]\n"
           "                 --vip ... --dev ... --port ... [...]  (the two-node shorthand: implies --two-node)\n"
           "  --id            this node's id (1-255); every node is given the same --node list\n"
           "  --node          a node's id and replication (TCP) and heartbeat (UDP) address, port 7100\n"
           "                  by default; one per node, this one and the witness included. Two nodes\n"
           "                  (and a witness) run yet. With --transport sctp a node may have a second\n"
           "                  address on another segment (ID=ADDR,ADDR2[:PORT], one port for both): the\n"
           "                  stream and the heartbeats then use both paths, and losing one is no failure\n"
           "  --priority      this node's priority (0-255, default 100): the node of highest priority\n"
           "                  starts as the primary, ties to the lowest id. Every node reads the\n"
           "                  priorities from the config file's [[node]] tables (or 100): this must\n"
           "                  agree with this node's table\n"
           "  --vip           the service address, claimed on IFACE by the primary\n"
           "  --dev           the interface that carries the VIP\n"
           "  --port          the protected TCP service port\n"
           "  --replica       where the local replica of the service accepts connections; required\n"
           "                  on the node that starts as the backup\n"
           "  --preempt       a node of higher priority that returns while another serves takes the role\n"
           "                  back by a planned handover once it has caught up; off by default (it joins\n"
           "                  as a backup and stays one)\n"
           "  --witness-id    the node of the list that is the witness (it runs `failoverd --witness`): the\n"
           "                  primary speaks only while a majority of the nodes, the witness included,\n"
           "                  renews its lease; a backup takes over only once a majority voted for it\n"
           "  --two-node      two nodes without a witness: no lease, no fencing, no partition safety (a\n"
           "                  cut between the nodes leaves both serving, as keepalived's VRRP does)\n"
           "  --witness       this node is the witness: it answers heartbeats and votes, holds no VIP\n"
           "                  and no replica, needs no --vip, --dev, --port\n"
           "  --lease-ms      how long a primary may speak after a majority renewed its lease; at least\n"
           "                  --heartbeat-ms x --dead-after (the default); every node must be given the same\n"
           "  --config        a TOML file with the same settings; flags given here override it\n"
           "  --config-test   check FILE as `--config FILE` alone would start, print one line, exit 0 or 1\n"
           "  --heartbeat-ms  heartbeat interval, default 10\n"
           "  --dead-after    missed heartbeats before the primary is declared dead, default 3\n"
           "  --ready-file    created once the node is ready (primary: peers connected; backup: stream accepted)\n"
           "  --rt-priority   SCHED_FIFO priority of the heartbeat thread and of a takeover (1-99),\n"
           "                  0 for the normal scheduler; default 10\n"
           "  --nice N        nice value of the replication path (-20..19); default -10\n"
           "  --control       the control socket failoverctl talks to; default /run/tcpfo/failoverd.sock\n"
           "  --metrics       serve Prometheus metrics at http://ADDR:PORT/metrics; off by default\n"
           "  --hooks         the kernel hooks: bpf (the eBPF programs, default), kmod (the module\n"
           "                  tcpfo.ko, loaded beforehand), auto (kmod where it is loaded, else bpf)\n"
           "  --transport     what carries the replication stream: tcp (default) or sctp (lksctp; the\n"
           "                  kernel needs SCTP, every node must say the same). Only sctp can use a\n"
           "                  node's second address\n"
           "  --key-file      the shared key file (mode 0600; `failoverctl genkey PATH` makes one): peers\n"
           "                  authenticate every heartbeat and record with it; SIGHUP rereads it.\n"
           "                  Without it peers are not authenticated (a warning at start)\n"
           "  --role          shorthand: primary holds the VIP and snoops; backup replays and takes over\n"
           "  --listen        shorthand: this node's replication and heartbeat address (ADDR[,ADDR2][:PORT]),\n"
           "                  port 7100 by default\n"
           "  --peer          shorthand: another node's --listen address (primary: its backups; backup: the primary)\n"
           "See docs/operations.md.\n";
}

Result<CommandLine> parse_command_line(int argc, char** argv) {
    enum {
        kRole = 1, kVip, kDev, kPort, kListen, kPeer, kReplica, kHeartbeat, kDeadAfter, kReady, kVerbose, kHelp,
        kRtPriority, kControl, kNice, kId, kNode, kPriority, kTwoNode, kWitness, kConfig, kConfigTest, kMetrics,
        kKeyFile, kHooks, kPreempt, kWitnessId, kLeaseMs, kTransport
    };
    static const option long_options[] = {
        {"role", required_argument, nullptr, kRole},
        {"vip", required_argument, nullptr, kVip},
        {"dev", required_argument, nullptr, kDev},
        {"port", required_argument, nullptr, kPort},
        {"listen", required_argument, nullptr, kListen},
        {"peer", required_argument, nullptr, kPeer},
        {"replica", required_argument, nullptr, kReplica},
        {"heartbeat-ms", required_argument, nullptr, kHeartbeat},
        {"dead-after", required_argument, nullptr, kDeadAfter},
        {"ready-file", required_argument, nullptr, kReady},
        {"verbose", no_argument, nullptr, kVerbose},
        {"rt-priority", required_argument, nullptr, kRtPriority},
        {"nice", required_argument, nullptr, kNice},
        {"control", required_argument, nullptr, kControl},
        {"metrics", required_argument, nullptr, kMetrics},
        {"hooks", required_argument, nullptr, kHooks},
        {"transport", required_argument, nullptr, kTransport},
        {"id", required_argument, nullptr, kId},
        {"node", required_argument, nullptr, kNode},
        {"priority", required_argument, nullptr, kPriority},
        {"two-node", no_argument, nullptr, kTwoNode},
        {"preempt", no_argument, nullptr, kPreempt},
        {"witness", no_argument, nullptr, kWitness},
        {"witness-id", required_argument, nullptr, kWitnessId},
        {"lease-ms", required_argument, nullptr, kLeaseMs},
        {"config", required_argument, nullptr, kConfig},
        {"config-test", required_argument, nullptr, kConfigTest},
        {"key-file", required_argument, nullptr, kKeyFile},
        {"help", no_argument, nullptr, kHelp},
        {nullptr, 0, nullptr, 0},
    };
    CommandLine cl;
    Settings& s = cl.settings;
    int options_seen = 0;
    opterr = 0;  // we print our own one-line errors
    optind = 1;
    for (;;) {
        const int c = getopt_long(argc, argv, "", long_options, nullptr);
        if (c == -1) break;
        ++options_seen;
        const std::string_view arg = optarg ? optarg : "";
        Result<void> r;
        switch (c) {
            case kRole:
                if (arg == "primary") s.role = NodeRole::primary;
                else if (arg == "backup") s.role = NodeRole::backup;
                else return fail("--role: '{}' is neither primary nor backup", arg);
                break;
            case kVip: r = set(s.vip, with_flag("--vip", parse_prefix(arg))); break;
            case kDev: r = set(s.dev, with_flag("--dev", check_dev(arg))); break;
            case kPort: r = set(s.port, parse_int("--port", arg, kPortRange)); break;
            case kListen: {
                auto e = with_flag("--listen", parse_node_addresses(arg, kDefaultReplicationPort));
                if (!e) return std::unexpected(e.error());
                s.listen = e->first;
                s.listen_second = e->second;
                break;
            }
            case kPeer: {
                auto e = with_flag("--peer", parse_node_addresses(arg, kDefaultReplicationPort));
                if (!e) return std::unexpected(e.error());
                s.peers.push_back(e->first);
                s.peers_second.push_back(e->second);
                break;
            }
            case kReplica: r = set(s.replica, with_flag("--replica", parse_replica(arg))); break;
            case kHeartbeat: r = set(s.heartbeat_ms, parse_int("--heartbeat-ms", arg, kHeartbeatMsRange)); break;
            case kDeadAfter: r = set(s.dead_after, parse_int("--dead-after", arg, kDeadAfterRange)); break;
            case kReady: s.ready_file = std::string(arg); break;
            case kVerbose: s.verbose = true; break;
            case kRtPriority: r = set(s.realtime_priority, parse_int("--rt-priority", arg, kRealtimePriorityRange)); break;
            case kNice: r = set(s.nice, parse_int("--nice", arg, kNiceRange)); break;
            case kControl: r = set(s.control_path, with_flag("--control", check_control_path(arg))); break;
            case kMetrics: r = set(s.metrics, with_flag("--metrics", parse_metrics_address(arg))); break;
            case kHooks: r = set(s.hooks, with_flag("--hooks", parse_hooks_backend(arg))); break;
            case kTransport: r = set(s.transport, with_flag("--transport", parse_transport(arg))); break;
            case kId:
                r = set(s.id, parse_int("--id", arg, IntRange{kMinNodeId, kMaxNodeId}));
                break;
            case kNode: {
                auto n = with_flag("--node", parse_node_flag(arg));
                if (!n) return std::unexpected(n.error());
                s.nodes.push_back(*n);
                break;
            }
            case kPriority:
                r = set(s.priority, parse_int("--priority", arg, IntRange{kMinNodePriority, kMaxNodePriority}));
                break;
            case kTwoNode: s.two_node = true; break;
            case kPreempt: s.preempt = true; break;
            case kWitness: s.witness = true; break;
            case kWitnessId:
                r = set(s.witness_id, parse_int("--witness-id", arg, IntRange{kMinNodeId, kMaxNodeId}));
                break;
            case kLeaseMs: r = set(s.lease_ms, parse_int("--lease-ms", arg, kLeaseMsRange)); break;
            case kConfig:
                if (arg.empty()) return fail("--config: a file is needed");
                s.config_file = std::string(arg);
                break;
            case kConfigTest:
                if (arg.empty()) return fail("--config-test: a file is needed");
                cl.config_test_file = std::string(arg);
                break;
            case kKeyFile:
                if (arg.empty()) return fail("--key-file: a file is needed");
                s.key_file = std::string(arg);
                break;
            case kHelp: cl.help_requested = true; break;
            case ':': return fail("{} needs a value", argv[optind - 1]);
            default: return fail("unknown argument '{}'", argv[optind - 1]);
        }
        if (!r) return std::unexpected(r.error());
    }
    if (optind < argc) return fail("unexpected argument '{}'", argv[optind]);
    if (cl.help_requested) return cl;
    // The verdict is about the file alone, so that what passes also starts with
    // `--config FILE` and nothing else.
    if (cl.config_test_file && options_seen != 1) return fail("--config-test takes FILE and nothing else");
    if (uses_shorthand(s) && uses_symmetric_form(s))
        return fail("--role/--listen/--peer (the two-node shorthand) cannot be mixed with "
                    "--id/--node/--priority/--two-node/--witness/--witness-id/--preempt/--config");
    return cl;
}

Result<Options> resolve_options(const Settings& command_line) {
    if (uses_shorthand(command_line)) return with_keys(resolve_shorthand(command_line));
    Settings s = command_line;
    if (command_line.config_file) {
        auto file = load_config_file(*command_line.config_file);
        if (!file) return std::unexpected(file.error());
        s = merge_settings(*file, command_line);
    }
    if (!uses_symmetric_form(s)) return fail("--id and --node are required (or the shorthand --role, --listen, --peer)");
    auto o = with_keys(resolve_symmetric(s));
    if (o) resolve_check_targets(*o);
    // Whatever is wrong with the whole is named with the file it came (partly) from.
    if (!o && s.config_file && !o.error().message.starts_with(*s.config_file))
        return fail("{}: {}", *s.config_file, o.error().message);
    return o;
}

Result<ParseOutcome> parse_options(int argc, char** argv) {
    auto cl = parse_command_line(argc, argv);
    if (!cl) return std::unexpected(cl.error());
    if (cl->help_requested) return ParseOutcome{std::nullopt, true, std::nullopt};
    if (cl->config_test_file) return ParseOutcome{std::nullopt, false, cl->config_test_file};
    auto o = resolve_options(cl->settings);
    if (!o) return std::unexpected(o.error());
    return ParseOutcome{std::move(*o), false, std::nullopt};
}

Result<std::string> config_test_verdict(const std::string& file) {
    Settings only_the_file;
    only_the_file.config_file = file;
    auto o = resolve_options(only_the_file);
    if (!o) return std::unexpected(o.error());
    if (o->is_witness)
        return fmt::format("{}: ok (node {} of {}, the witness{})", file, o->cluster->own_id, o->cluster->nodes.size(),
                           o->keys ? ", peers authenticated with key " + key_id_text(o->keys->view(0)->sending.id) : "");
    return fmt::format("{}: ok (node {} of {}, starts as {}{}{}{})", file, o->cluster->own_id, o->cluster->nodes.size(),
                       o->role == NodeRole::primary ? "primary" : "backup",
                       o->cluster->witness_id ? fmt::format(", witness node {}", *o->cluster->witness_id) : "",
                       o->keys ? ", peers authenticated with key " + key_id_text(o->keys->view(0)->sending.id) : "",
                       o->checks.empty() ? "" : fmt::format(", {} health check(s)", o->checks.size()));
}

}  // namespace tcpfo
