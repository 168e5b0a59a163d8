#include "userd/config/settings.h"

#include <sys/un.h>

namespace tcpfo {

Result<int> check_range(long long value, IntRange range) {
    if (value < range.min || value > range.max)
        return fail("{} is not a number from {} to {}", value, range.min, range.max);
    return int(value);
}

Result<std::string> check_dev(std::string_view name) {
    if (name.empty() || name.size() >= 16) return fail("'{}' is not an interface name", name);
    return std::string(name);
}

Result<std::string> check_control_path(std::string_view path) {
    if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
        return fail("a socket path of 1 to {} bytes is needed", sizeof(sockaddr_un{}.sun_path) - 1);
    return std::string(path);
}

Result<sockaddr_in> parse_replica(std::string_view text) {
    auto e = parse_endpoint(text, 0);
    if (!e) return std::unexpected(e.error());
    if (e->sin_port == 0) return fail("'{}' needs a port", text);
    return *e;
}

Result<sockaddr_in> parse_metrics_address(std::string_view text) {
    auto e = parse_endpoint(text, 0);
    if (!e) return std::unexpected(e.error());
    if (e->sin_port == 0) return fail("'{}' needs a port (ADDR:PORT, e.g. 0.0.0.0:9100)", text);
    return *e;
}

Result<Transport> parse_transport(std::string_view text) {
    if (text == "tcp") return Transport::tcp;
    if (text == "sctp") return Transport::sctp;
    return fail("'{}' is neither tcp nor sctp", text);
}

const char* to_string(Transport transport) { return transport == Transport::sctp ? "sctp" : "tcp"; }

Result<HooksBackend> parse_hooks_backend(std::string_view text) {
    if (text == "bpf") return HooksBackend::bpf;
    if (text == "kmod") return HooksBackend::kmod;
    if (text == "auto") return HooksBackend::automatic;
    return fail("'{}' is not one of bpf, kmod, auto", text);
}

const char* to_string(HooksBackend backend) {
    switch (backend) {
        case HooksBackend::bpf: return "bpf";
        case HooksBackend::kmod: return "kmod";
        case HooksBackend::automatic: return "auto";
    }
    return "?";
}

Settings merge_settings(const Settings& under, const Settings& over) {
    Settings s = under;
    auto take = [](auto& into, const auto& from) {
        if (from) into = from;
    };
    take(s.role, over.role);
    if (over.listen) {
        s.listen = over.listen;
        s.listen_second = over.listen_second;
    }
    if (!over.peers.empty()) {
        s.peers = over.peers;
        s.peers_second = over.peers_second;
    }
    take(s.id, over.id);
    if (!over.nodes.empty()) s.nodes = over.nodes;
    take(s.priority, over.priority);
    take(s.two_node, over.two_node);
    take(s.preempt, over.preempt);
    take(s.witness, over.witness);
    take(s.witness_id, over.witness_id);
    take(s.lease_ms, over.lease_ms);
    take(s.vip, over.vip);
    take(s.dev, over.dev);
    take(s.port, over.port);
    take(s.replica, over.replica);
    take(s.heartbeat_ms, over.heartbeat_ms);
    take(s.dead_after, over.dead_after);
    take(s.ready_file, over.ready_file);
    take(s.realtime_priority, over.realtime_priority);
    take(s.nice, over.nice);
    take(s.control_path, over.control_path);
    take(s.verbose, over.verbose);
    take(s.metrics, over.metrics);
    take(s.hooks, over.hooks);
    take(s.transport, over.transport);
    take(s.key_file, over.key_file);
    if (!over.checks.empty()) s.checks = over.checks;
    take(s.notify, over.notify);
    take(s.notify_fifo, over.notify_fifo);
    take(s.config_file, over.config_file);
    return s;
}

}  // namespace tcpfo
