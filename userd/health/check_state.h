// A check's state from its results in a row: `fall` failures take an up check down,
// `rise` successes take a down one up. Pure (no clock, no I/O), so the counting is
// tested result by result.
#pragma once

#include <cstdint>
#include <string>

namespace tcpfo {

struct ProbeOutcome {
    bool ok = false;
    std::string reason;   // why it failed ("connection refused", "HTTP 503"); "" when ok
    uint64_t latency_us = 0;  // from the probe's start to its verdict
};

class CheckState {
public:
    CheckState(int fall, int rise, bool init_fail) : fall_(fall), rise_(rise), up_(!init_fail) {}

    // Counts one result; true when it changed the state (an edge).
    bool count(const ProbeOutcome& outcome);

    bool up() const { return up_; }
    // Results of the current streak: failures while up, successes while down.
    int streak() const { return streak_; }
    uint64_t results() const { return results_; }

private:
    int fall_, rise_;
    bool up_;
    int streak_ = 0;
    uint64_t results_ = 0;
};

}  // namespace tcpfo
