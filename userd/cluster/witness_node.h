// The witness (`failoverd --witness`): a third node for a two-node cluster that only
// votes (docs/architecture.md, "Leases and fencing"). It answers the primary's and a
// candidate's heartbeats with its Voter (voter.h): it renews the primary's lease, and
// grants a candidate the next epoch only once every promise it made to the old
// primary has run out, one vote per epoch. No VIP, no replica, no hooks: it can run
// on any small machine that both nodes reach by another path than their own link.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "userd/base/event_loop.h"
#include "userd/cluster/heartbeat.h"
#include "userd/status/report_cadence.h"
#include "userd/config/options.h"
#include "userd/status/control_server.h"
#include "userd/status/node_status.h"

namespace tcpfo {

class WitnessNode {
public:
    static Result<std::unique_ptr<WitnessNode>> start(EventLoop& loop, const Options& options);

    // Each loop turn: the heartbeat thread's sign of life, and now and then this
    // node's NODE_REPORT (its vote).
    void after_events();
    bool stop_by_handing_over() { return false; }
    bool stop_ready() const { return true; }
    void shut_down() {}
    NodeStatus status(StatusDetail detail = StatusDetail::full) const;
    Result<ControlServer::ServiceOffer> offer_service(int pid);
    Result<std::string> handover(const std::optional<std::string>& node);

private:
    explicit WitnessNode(const Options& options) : options_(options) {}

    Options options_;
    std::unique_ptr<Heartbeat> heartbeat_;
    ReportCadence report_cadence_;
};

}  // namespace tcpfo
