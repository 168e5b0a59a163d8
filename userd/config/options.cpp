#include "userd/config/options.h"

#include <getopt.h>
#include <sys/un.h>

#include <charconv>
#include <string_view>

namespace tcpfo {
namespace {

Result<int> parse_int(std::string_view flag, std::string_view text, int min, int max) {
    int value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
        return fail("{}: '{}' is not a number from {} to {}", flag, text, min, max);
    return value;
}

template <class T>
Result<T> with_flag(std::string_view flag, Result<T> r) {
    if (!r) return fail("{}: {}", flag, r.error().message);
    return r;
}

}  // namespace

const char* usage_text() {
    return "usage: failoverd --role primary|backup --vip ADDR/PREFIX --dev IFACE --port PORT\n"
           "                 --listen ADDR[:PORT] --peer ADDR[:PORT] [--peer ...]\n"
           "                 [--replica HOST:PORT] [--heartbeat-ms N] [--dead-after N]\n"
           "                 [--ready-file PATH] [--rt-priority N] [--nice N] [--control PATH] [--verbose]\n"
           "  --role          primary holds the VIP and snoops; backup replays and takes over\n"
           "  --vip           the service address, claimed on IFACE by the primary\n"
           "  --dev           the interface that carries the VIP\n"
           "  --port          the protected TCP service port\n"
           "  --listen        this node's replication (TCP) and heartbeat (UDP) address, port 7100 by default\n"
           "  --peer          another node's --listen address (primary: its backups; backup: the primary)\n"
           "  --replica       backup only: where the local replica of the service accepts connections\n"
           "  --heartbeat-ms  heartbeat interval, default 10\n"
           "  --dead-after    missed heartbeats before the primary is declared dead, default 3\n"
           "  --ready-file    created once the node is ready (primary: peers connected; backup: stream accepted)\n"
           "  --rt-priority   SCHED_FIFO priority of the heartbeat thread and of a takeover (1-99),\n"
           "                  0 for the normal scheduler; default 10\n"
           "  --nice N        nice value of the replication path (-20..19); default -10\n"
           "  --control       the control socket failoverctl talks to; default /run/tcpfo/failoverd.sock\n";
}

Result<ParseOutcome> parse_options(int argc, char** argv) {
    enum { kRole = 1, kVip, kDev, kPort, kListen, kPeer, kReplica, kHeartbeat, kDeadAfter, kReady, kVerbose, kHelp, kRtPriority, kControl, kNice };
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
        {"help", no_argument, nullptr, kHelp},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    bool have_role = false, have_vip = false, have_port = false, have_listen = false;
    opterr = 0;  // we print our own one-line errors
    optind = 1;
    for (;;) {
        const int c = getopt_long(argc, argv, "", long_options, nullptr);
        if (c == -1) break;
        const std::string_view arg = optarg ? optarg : "";
        switch (c) {
            case kRole:
                if (arg == "primary") o.role = NodeRole::primary;
                else if (arg == "backup") o.role = NodeRole::backup;
                else return fail("--role: '{}' is neither primary nor backup", arg);
                have_role = true;
                break;
            case kVip: {
                auto p = with_flag("--vip", parse_prefix(arg));
                if (!p) return std::unexpected(p.error());
                o.vip = *p;
                have_vip = true;
                break;
            }
            case kDev:
                if (arg.empty() || arg.size() >= 16) return fail("--dev: '{}' is not an interface name", arg);
                o.dev = arg;
                break;
            case kPort: {
                auto p = parse_int("--port", arg, 1, 65535);
                if (!p) return std::unexpected(p.error());
                o.port = uint16_t(*p);
                have_port = true;
                break;
            }
            case kListen: {
                auto e = with_flag("--listen", parse_endpoint(arg, kDefaultReplicationPort));
                if (!e) return std::unexpected(e.error());
                o.listen = *e;
                have_listen = true;
                break;
            }
            case kPeer: {
                auto e = with_flag("--peer", parse_endpoint(arg, kDefaultReplicationPort));
                if (!e) return std::unexpected(e.error());
                o.peers.push_back(*e);
                break;
            }
            case kReplica: {
                auto e = with_flag("--replica", parse_endpoint(arg, 0));
                if (!e) return std::unexpected(e.error());
                if (e->sin_port == 0) return fail("--replica: '{}' needs a port", arg);
                o.replica = *e;
                break;
            }
            case kHeartbeat: {
                auto v = parse_int("--heartbeat-ms", arg, 1, 10000);
                if (!v) return std::unexpected(v.error());
                o.heartbeat_ms = *v;
                break;
            }
            case kDeadAfter: {
                auto v = parse_int("--dead-after", arg, 1, 1000);
                if (!v) return std::unexpected(v.error());
                o.dead_after = *v;
                break;
            }
            case kReady: o.ready_file = arg; break;
            case kVerbose: o.verbose = true; break;
            case kRtPriority: {
                auto v = parse_int("--rt-priority", arg, 0, 99);
                if (!v) return std::unexpected(v.error());
                o.realtime_priority = *v;
                break;
            }
            case kNice: {
                auto v = parse_int("--nice", arg, -20, 19);
                if (!v) return std::unexpected(v.error());
                o.nice = *v;
                break;
            }
            case kControl:
                if (arg.empty() || arg.size() >= sizeof(sockaddr_un{}.sun_path))
                    return fail("--control: a socket path of 1 to {} bytes is needed", sizeof(sockaddr_un{}.sun_path) - 1);
                o.control_path = arg;
                break;
            case kHelp: return ParseOutcome{std::nullopt, true};
            case ':': return fail("{} needs a value", argv[optind - 1]);
            default: return fail("unknown argument '{}'", argv[optind - 1]);
        }
    }
    if (optind < argc) return fail("unexpected argument '{}'", argv[optind]);
    if (!have_role) return fail("--role is required");
    if (!have_vip) return fail("--vip is required");
    if (o.dev.empty()) return fail("--dev is required");
    if (!have_port) return fail("--port is required");
    if (!have_listen) return fail("--listen is required");
    if (o.peers.empty()) return fail("at least one --peer is required");
    if (o.peers.size() > kMaxPeers) return fail("at most {} --peer options", kMaxPeers);
    if (o.role == NodeRole::backup && !o.replica) return fail("--replica is required for a backup");
    if (o.role == NodeRole::backup && o.peers.size() != 1)
        return fail("a backup takes exactly one --peer (the primary)");
    return ParseOutcome{o, false};
}

}  // namespace tcpfo
