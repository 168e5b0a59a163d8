// Whether a starting node serves or joins (docs/architecture.md, "Roles at run time").
// The node list says which node serves first (start_role, config/node_list.h), but a
// node that restarts while another node has taken over must not claim the VIP: it
// listens to its peers' heartbeats for a bounded time first, and one that hears a
// primary joins it as a backup, whatever its priority (no preemption by default).
// Pure: what was heard goes in, the decision comes out (unit-tested).
#pragma once

#include <cstddef>
#include <cstdint>

#include "userd/protocol/record_codec.h"

namespace tcpfo {

// What the node heard while it listened at start.
struct StartHearing {
    // The highest epoch any peer announced in its heartbeats (0: none, or only peers
    // that have never been part of a replicating pair: a fresh backup announces 0).
    uint64_t highest_peer_epoch = 0;
    size_t peers = 0;        // peers listened for
    size_t peers_heard = 0;  // of those, peers heard at least once
};

// Whether listening can stop before its deadline: a peer announced an epoch (someone
// serves: join), or every peer was heard at epoch 0 (nobody serves: serve). A peer not
// heard yet may be down, or not reachable yet (likely: a peer whose neighbour entry for
// this node failed while it was down resolves it again only at its next ARP probe, up
// to a second later, and drops what it sends until then).
bool heard_enough(const StartHearing& heard);

struct StartDecision {
    NodeRole role = NodeRole::primary;
    // A primary's epoch: above anything heard, so that its records and heartbeats win
    // over a stale node's. A backup takes its primary's epoch from the hello.
    uint64_t epoch = 1;
    bool joined = false;  // would have served by the node list, joins a running primary instead
};

// `listed`: the role the node list gives this node (start_role). A node listed as the
// backup joins whatever it hears; a node listed as the primary serves only if no peer
// announced an epoch (nobody has replicated since the cluster started, or since every
// node restarted).
StartDecision decide_start(NodeRole listed, const StartHearing& heard);

// How long a node listed as the primary listens at most before it serves, if it does
// not hear every peer first (heard_enough): never shorter than three times what a
// backup takes to declare a silent primary dead (the dead-after interval), nor than
// 1.5 s, past a peer's next ARP probe (above). At the defaults (10 ms, 3): 1.5 s; a node
// whose peers all answer decides in one heartbeat interval or two.
uint64_t start_listen_ms(int heartbeat_ms, int dead_after);

}  // namespace tcpfo
