#include "userd/primary/lag_accounting.h"

#include <algorithm>

namespace tcpfo {

LagAccounting::Share LagAccounting::share_of(const ConnReplicator& conn, PeerId peer) {
    if (!conn.requires_peer(peer)) return {};
    // As primary_status.cpp counts it: what the backups hold was forwarded.
    const uint64_t forwarded = std::max(conn.forwarded_offset(), conn.stable_offset());
    return {true, forwarded, std::min(conn.peer_stable(peer), forwarded)};
}

void LagAccounting::before_change(const ConnReplicator& conn) {
    for (size_t i = 0; i < lags_.size(); ++i) before_[i] = share_of(conn, PeerId{uint16_t(i)});
}

void LagAccounting::after_change(const ConnReplicator& conn, uint64_t now_us) {
    for (size_t i = 0; i < lags_.size(); ++i) {
        const Share& was = before_[i];
        if (!was.held_by_peer) continue;  // a peer never comes back to a connection
        const Share now = share_of(conn, PeerId{uint16_t(i)});
        ReplicationLag& lag = lags_[i];
        if (!now.held_by_peer) {
            // Dropped (refused, or the peer lost): it no longer waits for these.
            lag.note_acknowledged(was.forwarded - was.held);
            continue;
        }
        // Both offsets only grow; forwarded first, so bytes forwarded and held in the
        // same change never count as acknowledged before they were forwarded.
        if (now.forwarded > was.forwarded) lag.note_forwarded(now.forwarded - was.forwarded, now_us);
        if (now.held > was.held) lag.note_acknowledged(now.held - was.held);
    }
}

void LagAccounting::forget(const ConnReplicator& conn) {
    for (size_t i = 0; i < lags_.size(); ++i) {
        const Share share = share_of(conn, PeerId{uint16_t(i)});
        if (share.held_by_peer) lags_[i].note_acknowledged(share.forwarded - share.held);
    }
}

}  // namespace tcpfo
