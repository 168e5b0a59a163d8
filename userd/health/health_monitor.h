// Runs the node's health checks on the event loop: each check on its own one-shot
// timer, one probe in flight per check, its results counted into up and down
// (check_state.h). The node is healthy while every check is up; the role decides
// what that means (a primary hands over, a backup says it is not eligible).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "userd/base/event_loop.h"
#include "userd/health/check_spec.h"
#include "userd/health/check_state.h"
#include "userd/health/probe.h"
#include "userd/status/node_status.h"

namespace tcpfo {

class HealthMonitor {
public:
    // One check changed state (an edge: once per change, never per result).
    struct Change {
        const CheckSpec& spec;
        bool up;
        std::string reason;  // the failure that took it down; "" when it came up
    };
    using OnChange = std::function<void(const Change&)>;

    // The first probe of every check runs at once (in the loop's next turn).
    static Result<std::unique_ptr<HealthMonitor>> start(EventLoop& loop, std::vector<CheckSpec> checks,
                                                        OnChange on_change);
    ~HealthMonitor();

    bool healthy() const;
    // "check web: HTTP 503": the first check that is down, "" when healthy.
    std::string unhealthy_reason() const;
    HealthStatus status() const;
    const std::vector<CheckSpec>& specs() const { return specs_; }

private:
    struct Check {
        explicit Check(const CheckSpec& s) : spec(s), state(s.fall, s.rise, s.init_fail) {}
        CheckSpec spec;
        CheckState state;
        UniqueFd timer;
        std::unique_ptr<Probe> probe;    // in flight
        std::unique_ptr<Probe> retired;  // finished; destroyed at the next run (not inside its own call)
        uint64_t started_us_mono = 0;
        bool starting = false;                 // inside start_probe()
        bool finished_while_starting = false;  // its verdict came from inside start_probe()
        ProbeOutcome last;
        bool ran = false;
        uint64_t last_run_us = 0, since_us = 0, failures = 0;
        std::string down_reason;  // the failure that took it down
    };

    HealthMonitor(EventLoop& loop, OnChange on_change) : loop_(loop), on_change_(std::move(on_change)) {}
    void run(Check& check);
    void on_result(Check& check, ProbeOutcome outcome);

    EventLoop& loop_;
    OnChange on_change_;
    std::vector<CheckSpec> specs_;
    std::vector<std::unique_ptr<Check>> checks_;
};

// The target of a check, for logs and status: "127.0.0.1:8080" or the command line.
std::string check_target_text(const CheckSpec& spec);

}  // namespace tcpfo
