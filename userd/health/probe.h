// One run of a check: started by the scheduler (health_monitor.h), finished by the
// event loop. A probe never blocks: its sockets, pidfd and deadline are descriptors
// watched by the loop.
#pragma once

#include <functional>
#include <memory>

#include "userd/base/error.h"
#include "userd/base/event_loop.h"
#include "userd/health/check_spec.h"
#include "userd/health/check_state.h"

namespace tcpfo {

class Probe {
public:
    // Called once, from a handler of the loop or from start_probe() itself (a connect
    // refused at once); the probe must outlive the call (the scheduler retires it and
    // destroys it later).
    using Done = std::function<void(ProbeOutcome)>;
    // Destroying a probe that has not finished cancels it: its descriptors leave the
    // loop, a script still running is killed.
    virtual ~Probe() = default;
};

// Starts one run of `spec`. An error is about this node (no descriptor, no fork), not
// the service: the scheduler counts it as a failure with that reason all the same.
Result<std::unique_ptr<Probe>> start_probe(EventLoop& loop, const CheckSpec& spec, Probe::Done done);

// "timeout after 200 ms", the reason of every probe that ran out of time.
std::string timeout_reason(int timeout_ms);
// strerror's text with a lowercase first letter: "connection refused".
std::string errno_reason(int err);

}  // namespace tcpfo
