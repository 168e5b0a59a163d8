#include "userd/status/status_json.h"

#include <exception>

#include <nlohmann/json.hpp>

#include "userd/base/inet_address.h"

namespace tcpfo {

namespace {

using Json = nlohmann::ordered_json;

// Strings come from our own state (addresses, reasons, error messages); invalid
// UTF-8 in one is replaced, never thrown about.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json peer_json(const PeerStatus& p) {
    Json j = Json::object();
    j["address"] = p.address;
    j["state"] = p.state;
    if (p.since_us) j["since_us"] = p.since_us;
    if (p.connected_us) j["connected_us"] = p.connected_us;
    j["queued_bytes"] = p.queued_bytes;
    if (p.lag_bytes) j["lag_bytes"] = *p.lag_bytes;
    if (p.lag_us) j["lag_ms"] = *p.lag_us / 1000;
    if (p.failed_attempts) j["failed_attempts"] = *p.failed_attempts;
    if (p.retry_in_ms) j["retry_in_ms"] = *p.retry_in_ms;
    if (p.retry_interval_ms) j["retry_interval_ms"] = *p.retry_interval_ms;
    if (!p.last_error.empty()) j["last_error"] = p.last_error;
    if (p.health) {
        j["eligible"] = p.health->eligible;
        if (!p.health->eligible) j["ineligible_reason"] = p.health->reason;
    }
    return j;
}

Json health_json(const HealthStatus& h) {
    Json checks = Json::array();
    for (const HealthCheckStatus& c : h.checks) {
        Json check{{"name", c.name},           {"type", c.type},         {"target", c.target},
                   {"state", c.state},         {"last_result", c.last_result}, {"reason", c.reason},
                   {"latency_ms", c.latency_ms}, {"since_us", c.since_us}, {"runs", c.runs},
                   {"failures", c.failures},   {"streak", c.streak}};
        if (c.last_run_us) check["last_run_us"] = c.last_run_us;
        checks.push_back(std::move(check));
    }
    Json j{{"checks", std::move(checks)}, {"eligible", h.eligible}};
    if (!h.eligible) j["reason"] = h.reason;
    return j;
}

// A peer's NODE_REPORT; null from a node that never sent one (an older failoverd).
Json report_json(const std::optional<ClusterReportStatus>& report) {
    if (!report) return nullptr;
    const ClusterReportStatus& r = *report;
    Json checks = Json::array();
    for (const ReportedCheckStatus& c : r.checks)
        checks.push_back(Json{{"name", c.name}, {"type", c.type}, {"state", c.state},
                              {"last_result", c.last_result}, {"reason", c.reason}});
    Json backups = Json::array();
    for (const ReportedBackupStatus& b : r.backups)
        backups.push_back(Json{{"address", b.address}, {"state", b.state},
                               {"eligible", b.eligible ? Json(*b.eligible) : Json(nullptr)},
                               {"lag_bytes", b.lag_bytes}, {"lag_ms", b.lag_ms}});
    return Json{{"age_ms", r.age_ms},
                {"epoch", r.epoch},
                {"eligible", r.eligible},
                {"checks", r.has_checks ? std::move(checks) : Json(nullptr)},
                {"lease", Json{{"enforced", r.lease_enforced}, {"held", r.lease_held},
                               {"remaining_ms", r.lease_remaining_ms},
                               {"renewed_ms_ago", r.lease_renewed_ms_ago}}},
                {"vote", Json{{"epoch", r.voted_epoch}, {"for", r.voted_for},
                              {"promise_remaining_ms", r.promise_remaining_ms}}},
                {"backups", std::move(backups)}};
}

Json takeover_json(const TakeoverStatus& t) {
    Json j = Json::object();
    j["state"] = t.finished_us == 0 ? "running" : t.succeeded ? "complete" : "failed";
    j["reason"] = t.reason;
    j["epoch"] = t.epoch;
    j["started_us"] = t.started_us;
    if (t.finished_us) j["finished_us"] = t.finished_us;
    if (!t.error.empty()) j["error"] = t.error;
    j["step"] = t.step;
    j["claim_attempts"] = t.claim_attempts;
    if (t.finished_us && t.succeeded) {
        j["rebuilt"] = t.rebuilt;
        j["reset"] = t.reset;
        j["reset_diverged"] = t.reset_diverged;
        j["positions_learned"] = t.positions_learned;
        j["prompted"] = t.prompted;
        j["total_ms"] = t.total_ms;
        j["claimed_ms"] = t.claimed_ms;
        j["probed_ms"] = t.probed_ms;
        j["learned_ms"] = t.learned_ms;
        j["drained_ms"] = t.drained_ms;
        j["rebuilt_ms"] = t.rebuilt_ms;
        j["serving_ms"] = t.serving_ms;
    }
    return j;
}

Json conn_json(const ConnStatus& c) {
    Json j = Json::object();
    j["id"] = c.id;
    j["client"] = endpoint_text(c.client_addr, c.client_port);
    j["phase"] = c.phase;
    j["protected"] = c.is_protected;
    if (!c.is_protected) j["why_not"] = c.why_not;
    Json in = Json::object();
    if (c.client_forwarded) in["forwarded"] = *c.client_forwarded;
    if (c.client_logged) in["logged"] = *c.client_logged;
    if (c.client_stable) in["stable"] = *c.client_stable;
    if (c.client_fed) in["fed_to_replica"] = *c.client_fed;
    if (!in.empty()) j["client_bytes"] = std::move(in);
    Json out = Json::object();
    if (c.server_sent) out["sent"] = *c.server_sent;
    if (c.replica_produced) out["replica_produced"] = *c.replica_produced;
    if (c.server_acked) out["acked"] = *c.server_acked;
    if (!out.empty()) j["server_bytes"] = std::move(out);
    if (c.diverged_at) j["diverged_at"] = *c.diverged_at;
    if (c.rebuilt) {
        j["rebuilt"] = *c.rebuilt;
        if (!*c.rebuilt) j["why_not_rebuilt"] = c.not_rebuilt_why;
    }
    return j;
}

// Everything but the connections, as an object whose closing brace is left off so
// the connections can follow: `{"version":1,...,"connections":[`.
std::string head_text(const NodeStatus& s) {
    Json j = Json::object();
    j["version"] = kStatusVersion;
    j["role"] = s.role;
    j["epoch"] = s.epoch;
    j["pid"] = s.pid;
    j["started_us"] = s.started_us;
    j["now_us"] = s.now_us;
    j["listen"] = s.listen;
    j["vip"] = s.vip;
    j["dev"] = s.dev;
    j["port"] = s.port;
    if (s.membership) {
        Json nodes = Json::array();
        for (const auto& n : s.membership->nodes)
            nodes.push_back(Json{{"id", n.id}, {"address", n.address}, {"priority", n.priority}});
        j["node"] = Json{{"id", s.membership->id}, {"priority", s.membership->priority},
                         {"two_node", s.membership->two_node}, {"nodes", std::move(nodes)}};
    } else {
        j["node"] = nullptr;
    }
    Json peers = Json::array();
    for (const auto& p : s.peers) peers.push_back(peer_json(p));
    j["peers"] = std::move(peers);
    Json hooks = Json::object();
    for (const auto& [name, value] : s.hooks) hooks[name] = value;
    j["hooks"] = std::move(hooks);
    j["takeover"] = s.takeover ? takeover_json(*s.takeover) : Json(nullptr);
    if (s.lease) {
        const LeaseStatus& l = *s.lease;
        Json lease{{"mode", l.mode}, {"quorum", l.quorum}, {"lease_ms", l.lease_ms}, {"silent", l.silent},
                   {"campaign_epoch", l.campaign_epoch}, {"deferring_to", l.deferring_to},
                   {"deferrals", l.deferrals},
                   {"vote", Json{{"epoch", l.voted_epoch}, {"for", l.voted_for},
                                 {"promise_remaining_ms", l.promise_remaining_ms}, {"grants", l.grants},
                                 {"refusals", l.refusals}, {"outranked_refusals", l.outranked_refusals}}}};
        if (l.held) lease["held"] = *l.held;
        if (l.remaining_ms) lease["remaining_ms"] = *l.remaining_ms;
        j["lease"] = std::move(lease);
    } else {
        j["lease"] = nullptr;
    }
    Json cluster = Json::array();
    for (const auto& c : s.cluster)
        cluster.push_back(Json{{"address", c.address}, {"heard", c.heard}, {"role", c.role}, {"epoch", c.epoch},
                               {"id", c.id}, {"priority", c.priority}, {"log_position", c.log_position},
                               {"holds_every_connection", c.holds_every_connection},
                               {"silence_ms", c.silence_ms}, {"report", report_json(c.report)}});
    j["cluster"] = std::move(cluster);
    if (s.holdings)
        j["holdings"] = Json{{"missing", s.holdings->missing}, {"protected", s.holdings->protected_count},
                             {"holds_every_connection", s.holdings->holds_every_connection}};
    else
        j["holdings"] = nullptr;
    {
        Json auth = Json::object();
        auth["enabled"] = s.auth.enabled;
        auth["key"] = s.auth.enabled ? Json(s.auth.sending_key) : Json(nullptr);
        auth["accepted_keys"] = s.auth.accepted_keys;
        Json heartbeats = Json::object(), streams = Json::object();
        for (const auto& [kind, n] : s.auth.heartbeats_dropped) heartbeats[kind] = n;
        for (const auto& [kind, n] : s.auth.streams_dropped) streams[kind] = n;
        auth["heartbeats_dropped"] = std::move(heartbeats);
        auth["streams_dropped"] = std::move(streams);
        j["auth"] = std::move(auth);
    }
    if (s.diverged) j["diverged"] = *s.diverged;
    if (s.health) j["health"] = health_json(*s.health);
    if (s.service) {
        Json svc{{"pid", s.service->pid}, {"mode", s.service->mode}, {"open", s.service->open},
                 {"log_bytes", s.service->log_bytes}, {"held", s.service->held}};
        if (s.service->holders) svc["holders"] = *s.service->holders;
        if (!s.service->refused.empty()) svc["refused"] = s.service->refused;
        if (s.service->feeder_names) svc["feeder_names"] = *s.service->feeder_names;
        if (s.service->names_waiting) svc["names_waiting"] = *s.service->names_waiting;
        if (s.service->accept_held)
            svc["accept_held"] = s.service->accept_held->empty() ? Json(nullptr) : Json(*s.service->accept_held);
        j["service"] = std::move(svc);
    }
    if (s.output_check)
        j["output_check"] = Json{{"checked_bytes", s.output_check->checked_bytes},
                                 {"unchecked_spans", s.output_check->unchecked_spans},
                                 {"diverged_total", s.output_check->diverged_total}};
    if (!s.roles.empty()) {
        Json roles = Json::array();
        for (const auto& r : s.roles)
            roles.push_back(Json{{"role", r.role}, {"epoch", r.epoch}, {"since_us", r.since_us}, {"why", r.why}});
        j["role_since_us"] = s.roles.back().since_us;
        j["roles"] = std::move(roles);
    }
    if (s.role == "primary" || s.serves_as_primary) {
        j["unprotected_total"] = s.unprotected_total;
        Json recent = Json::array();
        for (const auto& u : s.unprotected)
            recent.push_back(Json{{"client", endpoint_text(u.client_addr, u.client_port)},
                                  {"why", u.why},
                                  {"at_us", u.at_us}});
        j["unprotected_recent"] = std::move(recent);
    }
    j["connection_count"] = s.conns.size();
    std::string text = dump(j);
    text.pop_back();  // the object's '}'
    text += ",\"connections\":[";
    return text;
}

}  // namespace

std::string endpoint_text(uint32_t addr, uint16_t port) { return addr_to_string(addr) + ":" + std::to_string(port); }

std::string render_conn(const ConnStatus& conn) { return dump(conn_json(conn)); }

bool StatusRenderer::next(std::string& out, size_t max_conns) {
    try {
        switch (stage_) {
            case Stage::head:
                out += head_text(status_);
                stage_ = status_.conns.empty() ? Stage::tail : Stage::conns;
                return true;
            case Stage::conns: {
                const size_t end = std::min(status_.conns.size(), next_conn_ + std::max<size_t>(1, max_conns));
                for (; next_conn_ < end; ++next_conn_) {
                    ConnStatus& c = status_.conns[next_conn_];
                    if (status_.complete) status_.complete(c);
                    if (next_conn_ > 0) out += ',';
                    out += render_conn(c);
                }
                if (next_conn_ == status_.conns.size()) stage_ = Stage::tail;
                return true;
            }
            case Stage::tail:
                out += "]}\n";
                stage_ = Stage::done;
                return true;
            case Stage::done: return false;
        }
    } catch (const std::exception&) {
        // Only allocation can fail here; a truncated document tells the client.
        stage_ = Stage::done;
    }
    return false;
}

std::string render_status(NodeStatus status) {
    StatusRenderer renderer(std::move(status));
    std::string out;
    while (renderer.next(out, SIZE_MAX)) {
    }
    return out;
}

std::string render_one_conn(NodeStatus& status, uint64_t id) {
    for (auto& c : status.conns) {
        if (c.id != id) continue;
        if (status.complete) status.complete(c);
        try {
            return "{\"connection\":" + render_conn(c) + "}\n";
        } catch (const std::exception& e) {
            return render_error(e.what());
        }
    }
    return render_error("no connection " + std::to_string(id));
}

std::string render_handover_sent(std::string_view to) {
    try {
        return dump(Json{{"handover", "sent"}, {"to", std::string(to)}}) + "\n";
    } catch (const std::exception&) {
        return "{\"handover\":\"sent\"}\n";
    }
}

std::string render_error(std::string_view message) {
    try {
        return dump(Json{{"error", std::string(message)}}) + "\n";
    } catch (const std::exception&) {
        return "{\"error\":\"internal error\"}\n";
    }
}

}  // namespace tcpfo
