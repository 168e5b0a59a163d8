// One node's vote (DESIGN.md, "Nodes, epochs and leases"; docs/architecture.md,
// "Leases and fencing"): which primary or candidate a voter grants, and until when it
// has promised not to grant another. Every node has one (a witness is only this);
// arithmetic only, no clock and no I/O, so that the rule is unit-tested as written.
//
// The rule, for a request (a heartbeat of a primary or a candidate) at epoch E from
// node N, received at `now`:
//   - E below the highest epoch granted: refused (that primary is stale);
//   - E equal to it: granted to the node it was granted to, refused to any other
//     (one vote per epoch);
//   - E above it: granted only once every promise made has run out (and the voter's
//     own start is a lease behind it: a restarted voter does not know what it
//     promised before), and then E is granted to N.
// Each grant promises: no other node is granted before now + lease_ms.
#pragma once

#include <cstdint>

namespace tcpfo {

class Voter {
public:
    // `started_ms`: when this voter started (its monotonic clock).
    Voter(uint64_t lease_ms, uint64_t started_ms);

    struct Answer {
        bool granted = false;
        uint64_t epoch = 0;  // the highest epoch granted after this request
    };
    // A request, granted or not; granting records it (the promise and the vote). The
    // promise lasts the longer of this voter's lease and `asked_lease_ms` (the lease the
    // requester counts on: a voter configured shorter must not break its promise).
    Answer on_request(uint64_t epoch, uint32_t node, uint64_t now_ms, uint64_t asked_lease_ms = 0);
    // Whether on_request would grant it, changing nothing (a candidate's own vote is
    // given only once a quorum elects it: until then it goes on answering the primary).
    bool would_grant(uint64_t epoch, uint32_t node, uint64_t now_ms) const;

    // The node this voter's vote at `epoch` went to gives it back: it handed over, having
    // stopped speaking at that epoch first (egress frozen, VIP removed, no more
    // heartbeats as its primary), so the promises made to it protect nothing any more.
    // If that vote is the one this voter holds, every promise it made ends now (they were
    // all made to that node: a higher epoch is granted only once the earlier promises
    // ran out), and that node is not granted `epoch` again. Anything else: no change.
    // Returns whether it released.
    bool release(uint64_t epoch, uint32_t node);

    uint64_t epoch() const { return epoch_; }
    uint32_t granted_to() const { return node_; }  // 0: nobody yet
    // Until when (exclusive) no other node may be granted; 0 if never promised.
    uint64_t promised_until_ms() const { return promised_until_ms_; }
    uint64_t grants() const { return grants_; }
    uint64_t refusals() const { return refusals_; }

private:
    uint64_t lease_ms_;
    uint64_t quiet_until_ms_;
    uint64_t epoch_ = 0;
    uint32_t node_ = 0;
    uint64_t promised_until_ms_ = 0;
    bool released_ = false;  // the vote at epoch_ was given back (release)
    uint64_t grants_ = 0;
    uint64_t refusals_ = 0;
};

}  // namespace tcpfo
