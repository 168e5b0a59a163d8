#include "userd/status/node_report.h"

#include <algorithm>

#include "userd/base/inet_address.h"

namespace tcpfo {

namespace {

ReportCheckType check_type_of(const std::string& type) {
    if (type == "http") return ReportCheckType::http;
    if (type == "banner") return ReportCheckType::banner;
    if (type == "script") return ReportCheckType::script;
    return ReportCheckType::tcp;
}

const char* check_type_text(ReportCheckType type) {
    switch (type) {
        case ReportCheckType::tcp: return "tcp";
        case ReportCheckType::http: return "http";
        case ReportCheckType::banner: return "banner";
        case ReportCheckType::script: return "script";
    }
    return "tcp";
}

ReportCheckResult check_result_of(const std::string& result) {
    if (result == "success") return ReportCheckResult::success;
    if (result == "failure") return ReportCheckResult::failure;
    return ReportCheckResult::none;
}

const char* check_result_text(ReportCheckResult result) {
    switch (result) {
        case ReportCheckResult::none: return "none";
        case ReportCheckResult::success: return "success";
        case ReportCheckResult::failure: return "failure";
    }
    return "none";
}

ReportBackupState backup_state_of(const std::string& state) {
    if (state == "live") return ReportBackupState::live;
    if (state == "lost") return ReportBackupState::lost;
    return ReportBackupState::connecting;
}

const char* backup_state_text(ReportBackupState state) {
    switch (state) {
        case ReportBackupState::connecting: return "connecting";
        case ReportBackupState::live: return "live";
        case ReportBackupState::lost: return "lost";
    }
    return "connecting";
}

uint32_t clamp32(uint64_t v) { return uint32_t(std::min<uint64_t>(v, UINT32_MAX)); }

}  // namespace

NodeReportRecord node_report_of(const NodeStatus& status, const Heartbeat::LeaseView& lease, uint64_t now_ms) {
    NodeReportRecord r;
    r.epoch = status.epoch;
    if (status.health) {
        r.has_checks = true;
        r.eligible = status.health->eligible;
        for (const HealthCheckStatus& c : status.health->checks) {
            if (r.checks.size() == kMaxReportChecks) break;
            r.checks.push_back(
                {check_type_of(c.type), c.state == "up", check_result_of(c.last_result), c.name, c.reason});
        }
    }
    r.lease_enforced = lease.enforced;
    if (status.lease && status.lease->held.value_or(false)) {
        r.lease_held = true;
        r.lease_remaining_ms = clamp32(status.lease->remaining_ms.value_or(0));
        if (lease.renewed_ms != 0 && now_ms >= lease.renewed_ms) r.lease_renewed_ms = clamp32(now_ms - lease.renewed_ms);
    }
    r.voted_epoch = lease.voter_epoch;
    r.voted_for = lease.voter_granted_to;
    r.promise_remaining_ms = clamp32(lease.promised_until_ms > now_ms ? lease.promised_until_ms - now_ms : 0);
    // Only a serving primary's peers are its backups (a backup's one peer is its primary).
    if (status.serves_as_primary) {
        for (const PeerStatus& p : status.peers) {
            if (r.backups.size() == kMaxReportBackups) break;
            auto address = parse_endpoint(p.address, 0);
            if (!address) continue;  // never: the node wrote it
            ReportBackup b;
            b.address = address->sin_addr.s_addr;
            b.state = backup_state_of(p.state);
            b.eligible = !p.health           ? ReportEligibility::unknown
                         : p.health->eligible ? ReportEligibility::eligible
                                              : ReportEligibility::ineligible;
            b.lag_bytes = p.lag_bytes.value_or(0);
            b.lag_ms = clamp32(p.lag_us.value_or(0) / 1000);
            r.backups.push_back(b);
        }
    }
    return r;
}

ClusterReportStatus report_status_of(const NodeReportRecord& r, uint64_t age_ms) {
    ClusterReportStatus s;
    s.age_ms = age_ms;
    s.epoch = r.epoch;
    s.has_checks = r.has_checks;
    s.eligible = r.eligible;
    for (const ReportCheck& c : r.checks)
        s.checks.push_back({c.name, check_type_text(c.type), c.up ? "up" : "down", check_result_text(c.last_result),
                            c.reason});
    s.lease_enforced = r.lease_enforced;
    s.lease_held = r.lease_held;
    s.lease_remaining_ms = r.lease_remaining_ms;
    s.lease_renewed_ms_ago = r.lease_renewed_ms;
    s.voted_epoch = r.voted_epoch;
    if (r.voted_for != 0) s.voted_for = addr_to_string(r.voted_for);
    s.promise_remaining_ms = r.promise_remaining_ms;
    for (const ReportBackup& b : r.backups) {
        ReportedBackupStatus out;
        out.address = addr_to_string(b.address);
        out.state = backup_state_text(b.state);
        if (b.eligible != ReportEligibility::unknown) out.eligible = b.eligible == ReportEligibility::eligible;
        out.lag_bytes = b.lag_bytes;
        out.lag_ms = b.lag_ms;
        s.backups.push_back(std::move(out));
    }
    return s;
}

bool same_states(const NodeReportRecord& a, const NodeReportRecord& b) {
    auto states_of = [](NodeReportRecord r) {
        r.lease_remaining_ms = r.lease_renewed_ms = r.promise_remaining_ms = 0;
        for (ReportBackup& backup : r.backups) backup.lag_bytes = backup.lag_ms = 0;
        return r;
    };
    return states_of(a) == states_of(b);
}

}  // namespace tcpfo
