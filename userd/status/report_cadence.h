// When a node publishes its NODE_REPORT (docs/protocol.md, "Node reports"): it looks
// at what it would report every `look_ms` and publishes it when something other than
// a figure changed (a check went down, the lease was taken, a backup came) or when
// `period_ms` passed since the last one. Its peers hear of a change within `look_ms`
// and a heartbeat interval, and hear something at least every `period_ms`; the node
// builds a report a few times a second, never per heartbeat. Pure: the caller gives
// the clock.
#pragma once

#include <cstdint>
#include <optional>

#include "userd/protocol/record_codec.h"
#include "userd/status/node_report.h"

namespace tcpfo {

class ReportCadence {
public:
    static constexpr uint64_t kLookMs = 250;
    static constexpr uint64_t kPeriodMs = 1000;

    explicit ReportCadence(uint64_t look_ms = kLookMs, uint64_t period_ms = kPeriodMs)
        : look_ms_(look_ms), period_ms_(period_ms) {}

    // The report to publish at `now_ms` (monotonic), if any; make() builds the node's
    // current one, and is only called every look_ms.
    template <class Make>
    std::optional<NodeReportRecord> next(uint64_t now_ms, Make&& make) {
        if (looked_ && now_ms - looked_ms_ < look_ms_) return std::nullopt;
        looked_ = true;
        looked_ms_ = now_ms;
        NodeReportRecord report = make();
        if (last_ && same_states(*last_, report) && now_ms - published_ms_ < period_ms_) return std::nullopt;
        last_ = report;
        published_ms_ = now_ms;
        return report;
    }

private:
    uint64_t look_ms_, period_ms_;
    bool looked_ = false;
    uint64_t looked_ms_ = 0, published_ms_ = 0;
    std::optional<NodeReportRecord> last_;
};

}  // namespace tcpfo
