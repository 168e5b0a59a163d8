// The primary's lease (DESIGN.md invariant 3, "Nodes, epochs and leases";
// docs/architecture.md, "Leases and fencing"): arithmetic only, no clock and no I/O,
// so that the rule is unit-tested as written.
//
// Each voter that grants a heartbeat promises not to vote for another primary before
// its own clock + lease_ms, counted from when it received the heartbeat, which is
// after the primary sent it. So once a quorum (counting the primary itself) has
// granted the heartbeat sent at T, no other node can be elected before T + lease_ms
// by any of their clocks: the primary may speak until T + lease_ms - margin, the
// margin covering clocks that run at different rates. Times are the primary's own
// monotonic clock throughout (its send times, echoed back by the voters).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpfo {

class LeaseTracker {
public:
    // `voters`: the other nodes whose grants count; `quorum`: how many nodes, this one
    // included, must have granted a heartbeat for it to count.
    LeaseTracker(size_t voters, size_t quorum, uint64_t lease_ms);

    // The margin taken off every lease for clocks running at different rates: 1% of
    // the lease (ten times NTP's 500 ppm bound on a slewed clock), at least 1 ms.
    static uint64_t drift_margin_ms(uint64_t lease_ms);

    // Voter `voter` granted the heartbeat this node sent at `sent_ms`. Returns true
    // when that moved the lease's end.
    bool on_grant(size_t voter, uint64_t sent_ms);
    // Forget every grant (a new epoch: grants for the old one do not count).
    void reset();

    // Until when (this node's monotonic ms, exclusive) this node may speak; 0 if it
    // never held the lease.
    uint64_t held_until_ms() const { return until_ms_; }
    bool held(uint64_t now_ms) const { return now_ms < until_ms_; }
    // A lease once held that ran out: the node must fall silent.
    bool lapsed(uint64_t now_ms) const { return until_ms_ != 0 && now_ms >= until_ms_; }
    size_t quorum() const { return quorum_; }
    uint64_t lease_ms() const { return lease_ms_; }

private:
    std::vector<uint64_t> granted_sent_ms_;  // per voter: the latest send time it granted (0: none)
    size_t quorum_;
    uint64_t lease_ms_;
    uint64_t until_ms_ = 0;
};

}  // namespace tcpfo
