// When a campaign that cannot be won asks again (Heartbeat::retry_stalled_campaign):
// arithmetic only, so that the rule is unit-tested as written.
//
// Two backups that each granted the other's candidacy before either saw the other's
// final log position (a voter compares its own position as its loop last published it)
// hold one vote each and can never give their own: nobody is elected at that epoch. A
// node that gave its vote for its campaign's epoch away and has not been told of a
// winner (whose stream would have stopped the campaign) asks again for the next epoch;
// by then the positions are final, and the rank rule picks one. It waits three leases
// first (every promise to the dead primary has run out, and a winner's stream would
// have arrived), staggered by node id so that two stalled candidates do not retry in
// step.
#pragma once

#include <cstdint>
#include <optional>

namespace tcpfo {

struct StalledCampaign {
    uint64_t started_ms = 0;        // when the running campaign began
    uint64_t epoch = 0;             // the epoch it asks votes for
    uint64_t voter_epoch = 0;       // the epoch this node's own voter last promised
    uint32_t voter_granted_to = 0;  // whom it promised it to (an IPv4 address, network order)
    uint32_t self = 0;              // this node's address
};

struct CampaignTiming {
    uint32_t lease_ms = 0;
    uint32_t interval_ms = 0;  // the heartbeat interval
    int node_id = 0;
};

// The epoch to campaign for instead, or nothing while the campaign may still be won
// (or it is too early to tell).
std::optional<uint64_t> retry_epoch(const StalledCampaign& campaign, const CampaignTiming& timing, uint64_t now_ms);

}  // namespace tcpfo
