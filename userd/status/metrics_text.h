// A node's status as Prometheus metrics, in the text exposition format (version
// 0.0.4), for `failoverd --metrics` (metrics_server.h). The figures are those of
// `failoverctl status` (node_status.h), taken without the per-connection entries: one
// place knows each of them. Every metric is listed in docs/operations.md, "Metrics".
#pragma once

#include <string>
#include <string_view>

#include "userd/status/node_status.h"

namespace tcpfo {

// The Content-Type of the text format.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every role a status may report, so that tcpfo_role has one series for each (0 or 1).
inline constexpr std::string_view kRoles[] = {"primary", "handed-over", "backup", "taking-over",
                                              "taken-over-primary", "fenced", "silent", "candidate", "witness"};

std::string render_metrics(const NodeStatus& status);

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

}  // namespace tcpfo
