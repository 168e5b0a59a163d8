// The NODE_REPORT (docs/protocol.md, "Node reports") both ways: what this node tells
// its peers of itself, made from its own status, and what a peer's report says, for
// this node's status ("cluster"). Pure: no clock, no I/O.
#pragma once

#include <cstdint>

#include "userd/cluster/heartbeat.h"
#include "userd/protocol/record_codec.h"
#include "userd/status/node_status.h"

namespace tcpfo {

// `status`: this node's own (a summary is enough); `lease`: its heartbeat's view at
// `now_ms` (monotonic). The checks beyond kMaxReportChecks and the backups beyond
// kMaxReportBackups are left out; the encoder cuts names and reasons.
NodeReportRecord node_report_of(const NodeStatus& status, const Heartbeat::LeaseView& lease, uint64_t now_ms);

// A peer's report, received `age_ms` ago.
ClusterReportStatus report_status_of(const NodeReportRecord& report, uint64_t age_ms);

// The two reports say the same but for their figures (lag, the times left): a report
// that differs otherwise is a change, published at once (report_cadence.h).
bool same_states(const NodeReportRecord& a, const NodeReportRecord& b);

}  // namespace tcpfo
