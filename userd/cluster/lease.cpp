#include "userd/cluster/lease.h"

#include <algorithm>
#include <functional>

namespace tcpfo {

LeaseTracker::LeaseTracker(size_t voters, size_t quorum, uint64_t lease_ms)
    : granted_sent_ms_(voters, 0), quorum_(quorum), lease_ms_(lease_ms) {}

uint64_t LeaseTracker::drift_margin_ms(uint64_t lease_ms) { return std::max<uint64_t>(1, lease_ms / 100); }

bool LeaseTracker::on_grant(size_t voter, uint64_t sent_ms) {
    if (voter >= granted_sent_ms_.size() || sent_ms <= granted_sent_ms_[voter]) return false;
    granted_sent_ms_[voter] = sent_ms;
    // This node grants its own heartbeats as it sends them: quorum - 1 others are
    // needed. The lease starts at the latest send time that many voters granted.
    const size_t others = quorum_ > 0 ? quorum_ - 1 : 0;
    uint64_t since = 0;
    if (others == 0) {
        since = *std::max_element(granted_sent_ms_.begin(), granted_sent_ms_.end());
    } else {
        if (others > granted_sent_ms_.size()) return false;
        std::vector<uint64_t> sorted = granted_sent_ms_;
        std::nth_element(sorted.begin(), sorted.begin() + long(others - 1), sorted.end(), std::greater<>());
        since = sorted[others - 1];
    }
    if (since == 0) return false;
    const uint64_t margin = drift_margin_ms(lease_ms_);
    const uint64_t until = since + (lease_ms_ > margin ? lease_ms_ - margin : 0);
    if (until <= until_ms_) return false;
    until_ms_ = until;
    return true;
}

void LeaseTracker::reset() { std::fill(granted_sent_ms_.begin(), granted_sent_ms_.end(), 0); }

}  // namespace tcpfo
