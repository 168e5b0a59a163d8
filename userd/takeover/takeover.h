// A backup becomes the primary: drain the replica, rebuild every connection with
// TCP_REPAIR, claim and announce the VIP, and join each rebuilt socket with its
// replica connection (DESIGN.md, takeover steps 2-5).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "userd/hooks/bpf_snoop.h"
#include "replay/connection_splice.h"
#include "userd/takeover/gratuitous_arp.h"
#include "userd/base/event_loop.h"
#include "userd/config/options.h"
#include "replay/replica_feed.h"
#include "userd/takeover/repair_plan.h"
#include "userd/takeover/vip_address.h"

namespace tcpfo {

struct TakeoverOutcome {
    VipAddress vip;
    std::map<uint64_t, std::unique_ptr<ConnectionSplice>> splices;  // by conn id
    size_t rebuilt = 0;
    size_t skipped = 0;
    uint64_t drain_ms = 0, rebuild_ms = 0, claim_ms = 0;
};

// Consumes `feeds` (their replica sockets move into the splices). `snoop` gets each
// rebuilt connection marked so its ingress ACK ceiling holds.
Result<TakeoverOutcome> take_over(EventLoop& loop, const Options& options,
                                  std::map<uint64_t, std::unique_ptr<ReplicaFeed>>& feeds, BpfSnoop& snoop,
                                  const ArpAnnouncer& announcer,
                                  std::function<void(uint64_t conn_id)> on_splice_done);

}  // namespace tcpfo
