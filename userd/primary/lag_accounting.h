// Feeds each backup's ReplicationLag from the primary's connections: how many client
// bytes were forwarded to the peer, and how many of those it holds, as each connection
// changes. Per connection and peer, the bytes waiting are forwarded - min(held,
// forwarded), the notion of tcpfo_replication_lag_bytes (primary_status.cpp): a
// peer's forwarded count grows with the connection's forwarded offset, its
// acknowledged count with what it holds of that, and a connection forgotten, or no
// longer held by the peer, has what it still waited for written off as acknowledged,
// so a peer's outstanding bytes stay the sum over the connections it holds.
//
// The node calls before_change() and after_change() around anything that moves a
// connection's offsets (an event, a stable point, a peer dropped), and forget() before
// dropping a connection. O(peers) per call, no allocation after the first.
#pragma once

#include <cstdint>
#include <vector>

#include "userd/primary/conn_replicator.h"
#include "userd/primary/replication_lag.h"
#include "userd/protocol/peer_id.h"

namespace tcpfo {

class LagAccounting {
public:
    LagAccounting() = default;
    explicit LagAccounting(size_t peers) : lags_(peers), before_(peers) {}

    void before_change(const ConnReplicator& conn);
    // What moved since before_change() of the same connection; `now_us`: monotonic.
    void after_change(const ConnReplicator& conn, uint64_t now_us);
    // The connection is about to be forgotten: nothing of it is waited for any more.
    void forget(const ConnReplicator& conn);
    // The peer's stream was lost, or a new one began: it is owed nothing.
    void reset_peer(PeerId peer) { lags_[peer.index()].reset(); }

    const ReplicationLag& peer(PeerId peer) const { return lags_[peer.index()]; }

private:
    struct Share {
        bool held_by_peer = false;  // the peer holds the connection (requires_peer)
        uint64_t forwarded = 0;
        uint64_t held = 0;          // of what was forwarded
    };
    static Share share_of(const ConnReplicator& conn, PeerId peer);

    std::vector<ReplicationLag> lags_;
    std::vector<Share> before_;  // scratch, one per peer
};

}  // namespace tcpfo
