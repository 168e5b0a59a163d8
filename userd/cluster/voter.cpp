#include "userd/cluster/voter.h"

#include <algorithm>

namespace tcpfo {

Voter::Voter(uint64_t lease_ms, uint64_t started_ms) : lease_ms_(lease_ms), quiet_until_ms_(started_ms + lease_ms) {}

bool Voter::would_grant(uint64_t epoch, uint32_t node, uint64_t now_ms) const {
    if (epoch == 0 || epoch < epoch_) return false;
    if (epoch == epoch_) return node == node_ && !released_;
    return now_ms >= promised_until_ms_ && now_ms >= quiet_until_ms_;
}

Voter::Answer Voter::on_request(uint64_t epoch, uint32_t node, uint64_t now_ms, uint64_t asked_lease_ms) {
    if (!would_grant(epoch, node, now_ms)) {
        ++refusals_;
        return {false, epoch_};
    }
    if (epoch != epoch_) released_ = false;
    epoch_ = epoch;
    node_ = node;
    promised_until_ms_ = std::max(promised_until_ms_, now_ms + std::max(lease_ms_, asked_lease_ms));
    ++grants_;
    return {true, epoch_};
}

bool Voter::release(uint64_t epoch, uint32_t node) {
    if (epoch == 0 || epoch != epoch_ || node != node_ || released_) return false;
    released_ = true;
    promised_until_ms_ = 0;
    return true;
}

}  // namespace tcpfo
