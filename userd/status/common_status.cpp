#include <unistd.h>

#include "userd/base/event_loop.h"
#include "userd/base/inet_address.h"
#include "userd/status/node_sources.h"
#include "userd/status/node_report.h"

namespace tcpfo {

void fill_common_status(NodeStatus& status, const Options& options, uint64_t started_us) {
    status.pid = int(::getpid());
    status.started_us = started_us;
    status.now_us = realtime_us();
    status.listen = to_string(options.listen);
    status.vip = fmt::format("{}/{}", addr_to_string(options.vip.addr), options.vip.length);
    status.dev = options.dev;
    status.port = options.port;
    if (options.cluster) {
        const ClusterMembership& c = *options.cluster;
        MembershipStatus m;
        m.id = c.own_id;
        m.priority = c.own_priority;
        m.two_node = c.two_node;
        for (const NodeEntry& n : c.nodes)
            m.nodes.push_back({n.id, to_string(n.address), n.priority.value_or(kDefaultNodePriority)});
        status.membership = std::move(m);
    }
}

std::vector<std::pair<std::string, uint64_t>> hook_counters(const HookStats& st) {
    return {
        {"events", st.events},
        {"ring_drops", st.ring_drops},
        {"acks_clamped", st.acks_clamped},
        {"dup_acks_dropped", st.dup_acks_dropped},
        {"table_full", st.table_full},
        {"socketless_rsts_held", st.rsts_held},
        {"acks_ceiled", st.acks_ceiled},
        {"pure_acks_lifted", st.seqs_lifted},
        {"held_segments_dropped", st.held_dropped},
        {"takeover_segments_dropped", st.takeover_dropped},
        {"output_digest_failures", st.digest_failures},
        {"frozen_segments_dropped", st.frozen_dropped},
        {"sockets_closed_by_service_exit", st.service_died},
        {"acks_sent_by_socket", st.socket_acks},
        {"client_data_refused", st.data_refused},
        {"lease_segments_dropped", st.lease_dropped},
    };
}

AuthStatus auth_status(const KeyRing* keys, const DropLog* heartbeat_drops, const DropLog& stream_drops) {
    AuthStatus a;
    if (keys) {
        const auto view = keys->view(monotonic_ms());
        a.enabled = true;
        a.sending_key = key_id_text(view->sending.id);
        for (const auto& k : view->accepted) a.accepted_keys.push_back(key_id_text(k.id));
    }
    for (size_t i = 0; i < kAuthDropKinds; ++i) {
        const auto kind = AuthDrop(i);
        a.heartbeats_dropped.emplace_back(auth_drop_text(kind), heartbeat_drops ? heartbeat_drops->count(kind) : 0);
        a.streams_dropped.emplace_back(auth_drop_text(kind), stream_drops.count(kind));
    }
    return a;
}

LeaseStatus lease_status(const Heartbeat::LeaseView& v, bool primary, const std::string& silent) {
    LeaseStatus l;
    const uint64_t now = monotonic_ms();
    l.mode = v.enforced ? "quorum" : "two-node";
    l.quorum = v.quorum;
    l.lease_ms = v.lease_ms;
    if (primary && v.enforced) {
        const bool held = silent.empty() && now < v.until_ms;
        l.held = held;
        l.remaining_ms = held ? v.until_ms - now : 0;
    }
    l.silent = silent;
    l.campaign_epoch = v.campaign_epoch;
    l.voted_epoch = v.voter_epoch;
    if (v.voter_granted_to != 0) l.voted_for = addr_to_string(v.voter_granted_to);
    l.promise_remaining_ms = v.promised_until_ms > now ? v.promised_until_ms - now : 0;
    l.grants = v.grants;
    l.refusals = v.refusals;
    l.outranked_refusals = v.outranked_refusals;
    if (v.deferring_to != 0) l.deferring_to = addr_to_string(v.deferring_to);
    l.deferrals = v.deferrals;
    return l;
}

std::vector<ClusterPeerStatus> cluster_status(const std::vector<Heartbeat::PeerView>& views) {
    std::vector<ClusterPeerStatus> out;
    for (const Heartbeat::PeerView& v : views) {
        ClusterPeerStatus c;
        c.address = addr_to_string(v.address.sin_addr.s_addr);
        c.heard = v.heard;
        if (v.heard) {
            switch (v.role) {
                case NodeRole::primary: c.role = "primary"; break;
                case NodeRole::backup: c.role = "backup"; break;
                case NodeRole::candidate: c.role = "candidate"; break;
                case NodeRole::witness: c.role = "witness"; break;
            }
        }
        c.epoch = v.epoch;
        c.id = v.node_id;
        c.priority = v.priority;
        c.log_position = v.log_position;
        c.holds_every_connection = v.holds_every_connection;
        c.silence_ms = v.silence_ms;
        if (v.report) c.report = report_status_of(*v.report, v.report_age_ms);
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace tcpfo
