#include "userd/config/node_list.h"

#include <algorithm>
#include <charconv>

#include "userd/base/inet_address.h"

namespace tcpfo {

Result<int> check_node_id(long long id) {
    if (id < kMinNodeId || id > kMaxNodeId)
        return fail("{} is not a node id from {} to {}", id, kMinNodeId, kMaxNodeId);
    return int(id);
}

Result<int> check_node_priority(long long priority) {
    if (priority < kMinNodePriority || priority > kMaxNodePriority)
        return fail("{} is not a priority from {} to {}", priority, kMinNodePriority, kMaxNodePriority);
    return int(priority);
}

Result<NodeAddresses> parse_node_addresses(std::string_view text, uint16_t default_port) {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos) {
        auto first = parse_endpoint(text, default_port);
        if (!first) return std::unexpected(first.error());
        return NodeAddresses{*first, std::nullopt};
    }
    const std::string_view first_text = text.substr(0, comma), second_text = text.substr(comma + 1);
    if (second_text.find(',') != std::string_view::npos)
        return fail("'{}': at most two addresses (ADDR,ADDR2[:PORT])", text);
    if (first_text.find(':') != std::string_view::npos)
        return fail("'{}': the port goes once, after the second address (ADDR,ADDR2:PORT)", text);
    auto second = parse_endpoint(second_text, default_port);
    if (!second) return fail("second address: {}", second.error().message);
    auto first = parse_endpoint(first_text, ntohs(second->sin_port));
    if (!first) return std::unexpected(first.error());
    if (first->sin_addr.s_addr == second->sin_addr.s_addr)
        return fail("'{}': the second address is the first one again", text);
    return NodeAddresses{*first, *second};
}

Result<NodeEntry> parse_node_flag(std::string_view text) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) return fail("'{}' is not ID=ADDR[,ADDR2][:PORT]", text);
    const std::string_view id_text = text.substr(0, equals);
    long long id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || id_text.empty())
        return fail("'{}' is not a node id from {} to {}", id_text, kMinNodeId, kMaxNodeId);
    auto checked_id = check_node_id(id);
    if (!checked_id) return std::unexpected(checked_id.error());
    auto addresses = parse_node_addresses(text.substr(equals + 1), kDefaultReplicationPort);
    if (!addresses) return fail("node {}: {}", id, addresses.error().message);
    return NodeEntry{*checked_id, addresses->first, addresses->second, std::nullopt};
}

Result<void> validate_node_list(const std::vector<NodeEntry>& nodes, int own_id) {
    if (nodes.size() > kMaxNodes) return fail("{} nodes: at most {} are supported", nodes.size(), kMaxNodes);
    for (size_t i = 0; i < nodes.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            if (nodes[i].id == nodes[j].id) return fail("node {} is listed twice", nodes[i].id);
            // Heartbeats and incoming streams are told apart by the sender's IP address
            // alone (userd/cluster/heartbeat.cpp), so two nodes on one address, even on
            // different ports, could not be told apart.
            for (const auto& a : {std::optional(nodes[i].address), nodes[i].second_address})
                for (const auto& b : {std::optional(nodes[j].address), nodes[j].second_address})
                    if (a && b && a->sin_addr.s_addr == b->sin_addr.s_addr)
                        return fail("nodes {} and {} have the same address {}", nodes[j].id, nodes[i].id,
                                    addr_to_string(a->sin_addr.s_addr));
        }
    }
    if (std::none_of(nodes.begin(), nodes.end(), [&](const NodeEntry& n) { return n.id == own_id; }))
        return fail("this node's id {} is not in the node list", own_id);
    return {};
}

Result<StartRole> start_role(const std::vector<NodeEntry>& nodes, int own_id, std::optional<int> own_priority) {
    if (nodes.size() < 2)
        return fail("{} node: a cluster needs two nodes", nodes.size());
    // Every node must reach the same verdict from what it was given, or two of them
    // start as the primary. A priority only this node knows (--priority, or the file's
    // top-level `priority`, with no [[node]] table saying the same) would be taken as
    // the default 100 by the others: until the nodes exchange priorities (issue 9:
    // election), the [[node]] tables, the same on every node, are the only source.
    for (const NodeEntry& n : nodes) {
        if (n.id != own_id || !own_priority) continue;
        const int listed = n.priority.value_or(kDefaultNodePriority);
        if (*own_priority != listed)
            return fail("priority {} of node {} is known only to this node: the other node takes it to be {} and "
                        "both could start as the primary; give it in node {}'s [[node]] table of the config file "
                        "every node reads (nodes do not exchange priorities yet)",
                        *own_priority, own_id, listed, own_id);
    }
    auto priority_of = [&](const NodeEntry& n) { return n.priority.value_or(kDefaultNodePriority); };
    const NodeEntry* first = &nodes[0];
    for (const NodeEntry& n : nodes) {
        const int p = priority_of(n), best = priority_of(*first);
        if (p > best || (p == best && n.id < first->id)) first = &n;
    }
    StartRole start;
    start.first_primary_id = first->id;
    for (const NodeEntry& n : nodes) {
        if (n.id == own_id) {
            start.listen = n.address;
            start.listen_second = n.second_address;
        }
    }
    if (first->id == own_id) {
        start.role = NodeRole::primary;
        for (const NodeEntry& n : nodes)
            if (n.id != own_id) {
                start.peers.push_back(n.address);
                start.peers_second.push_back(n.second_address);
            }
    } else {
        // The first primary first (the stream it expects at start), then the other
        // backups: every data node hears every other's heartbeats and votes, and any of
        // them may serve after an election.
        start.role = NodeRole::backup;
        start.peers.push_back(first->address);
        start.peers_second.push_back(first->second_address);
        for (const NodeEntry& n : nodes)
            if (n.id != own_id && n.id != first->id) {
                start.peers.push_back(n.address);
                start.peers_second.push_back(n.second_address);
            }
    }
    return start;
}

}  // namespace tcpfo
