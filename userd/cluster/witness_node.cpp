#include "userd/cluster/witness_node.h"

#include "userd/base/inet_address.h"
#include "userd/base/log.h"
#include "userd/status/node_sources.h"

namespace tcpfo {

Result<std::unique_ptr<WitnessNode>> WitnessNode::start(EventLoop& loop, const Options& options) {
    std::unique_ptr<WitnessNode> node(new WitnessNode(options));
    auto hb = Heartbeat::open(loop, Heartbeat::Config::from(options, NodeRole::witness), {});
    if (!hb) return std::unexpected(hb.error());
    node->heartbeat_ = std::move(*hb);
    std::string peers;
    for (const auto& p : options.peers) peers += (peers.empty() ? "" : ", ") + to_string(p);
    log_info("witness: listening on {} for {}; lease {} ms, quorum {} of {}", to_string(options.listen), peers,
             options.lease_ms, options.quorum, options.cluster ? options.cluster->nodes.size() : 0);
    return node;
}

void WitnessNode::after_events() {
    heartbeat_->main_loop_alive();
    const uint64_t now = monotonic_ms();
    if (auto report = report_cadence_.next(
            now, [&] { return node_report_of(status(StatusDetail::summary), heartbeat_->lease_view(), now); }))
        heartbeat_->publish_report(*report);
}

NodeStatus WitnessNode::status(StatusDetail) const {
    NodeStatus s;
    s.role = "witness";
    const Heartbeat::LeaseView view = heartbeat_->lease_view();
    s.epoch = view.voter_epoch;
    s.lease = lease_status(view, false, "");
    s.cluster = cluster_status(heartbeat_->peer_views());
    s.auth = auth_status(options_.keys.get(), &heartbeat_->drops(), DropLog{"replication stream"});
    for (size_t i = 0; i < options_.peers.size(); ++i) {
        PeerStatus p;
        p.address = to_string(options_.peers[i]);
        // Heard within three heartbeats: the node is there.
        const uint64_t silence = heartbeat_->silence_ms(PeerId{uint16_t(i)});
        p.state = silence <= uint64_t(options_.heartbeat_ms) * uint64_t(options_.dead_after) ? "live" : "silent";
        p.last_error = p.state == "live" ? "" : fmt::format("not heard for {} ms", silence);
        s.peers.push_back(std::move(p));
    }
    return s;
}

Result<ControlServer::ServiceOffer> WitnessNode::offer_service(int) {
    return fail("this node is a witness: it runs no service");
}

Result<std::string> WitnessNode::handover(const std::optional<std::string>&) {
    return fail("no ready backup: this node is a witness; hand over on the primary");
}

}  // namespace tcpfo
