// The cluster's nodes as every failoverd is given them (`--node ID=ADDR[,ADDR2][:PORT]`, or
// `[[node]]` tables in the config file), their validation, and which role this node
// starts in. Every node gets the same list and its own id: none is primary by
// configuration (DESIGN.md, "Nodes, epochs and leases").
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "userd/base/error.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

// Peers a node replicates to; PeerId and per-peer tables are sized by it.
inline constexpr size_t kMaxPeers = 16;
inline constexpr size_t kMaxNodes = kMaxPeers + 1;

inline constexpr uint16_t kDefaultReplicationPort = 7100;

// Node ids fit in one byte, so a later wire format (heartbeats, votes) can carry one
// without a length; 0 is left out so that a zeroed field never names a node.
inline constexpr int kMinNodeId = 1;
inline constexpr int kMaxNodeId = 255;

// The healthy node of highest priority serves first. Every node's priority comes from
// the config file's [[node]] tables, or is this.
inline constexpr int kMinNodePriority = 0;
inline constexpr int kMaxNodePriority = 255;
inline constexpr int kDefaultNodePriority = 100;

// A node's replication and heartbeat addresses: the first, and a second one on another
// segment for a second path (SCTP multihoming; heartbeats go to both). Same port.
struct NodeAddresses {
    sockaddr_in first{};
    std::optional<sockaddr_in> second;
};

// "192.0.2.12", "192.0.2.12:7100", "192.0.2.12,192.0.2.212" or
// "192.0.2.12,192.0.2.212:7100": the port, written once at the end, is both's.
Result<NodeAddresses> parse_node_addresses(std::string_view text, uint16_t default_port);

struct NodeEntry {
    int id = 0;
    sockaddr_in address{};           // its replication (TCP or SCTP) and heartbeat (UDP) address
    std::optional<sockaddr_in> second_address;  // a second path's (--transport sctp)
    std::optional<int> priority;     // unset: kDefaultNodePriority
};

// "2=192.0.2.11", "2=192.0.2.11:7100" (the port defaults to 7100), or with a second
// address: "2=192.0.2.11,192.0.2.211[:7100]".
Result<NodeEntry> parse_node_flag(std::string_view text);

// "'0' is not a node id from 1 to 255", for the command line and the config file alike.
Result<int> check_node_id(long long id);
Result<int> check_node_priority(long long priority);

// Unique ids, distinct addresses, at most kMaxNodes, own_id among them. Says which
// entry is wrong in one line.
Result<void> validate_node_list(const std::vector<NodeEntry>& nodes, int own_id);

// Where this node starts: one primary, every other data node its backup.
struct StartRole {
    NodeRole role = NodeRole::primary;
    sockaddr_in listen{};             // this node's own entry
    std::optional<sockaddr_in> listen_second;
    std::vector<sockaddr_in> peers;   // every other data node; a backup's first is the primary
    std::vector<std::optional<sockaddr_in>> peers_second;  // each peer's second address, if any
    int first_primary_id = 0;
};

// The node of highest priority starts as the primary, ties to the lowest id; the
// others are its backups. Priorities come from the entries (the config file's
// [[node]] tables); `own_priority` (`--priority`) must agree with own_id's entry, since
// the other nodes know only the entries.
// The list must have passed validate_node_list.
Result<StartRole> start_role(const std::vector<NodeEntry>& nodes, int own_id, std::optional<int> own_priority);

}  // namespace tcpfo
