#include "userd/cluster/stalled_campaign.h"

namespace tcpfo {

std::optional<uint64_t> retry_epoch(const StalledCampaign& c, const CampaignTiming& t, uint64_t now_ms) {
    const uint64_t patience = 3 * uint64_t(t.lease_ms) + uint64_t(t.node_id > 0 ? t.node_id : 0) * t.interval_ms;
    if (now_ms < c.started_ms || now_ms - c.started_ms < patience) return std::nullopt;
    // Its own vote is still its own (or went to an older epoch): the campaign can go on.
    if (c.voter_epoch < c.epoch || c.voter_granted_to == c.self) return std::nullopt;
    return c.voter_epoch + 1;
}

}  // namespace tcpfo
