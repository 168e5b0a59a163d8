// The client side of the control socket (control_protocol.h), for failoverctl and
// tests: one blocking request, bounded in time and size.
#pragma once

#include <cstddef>
#include <string>

#include "userd/base/error.h"

namespace tcpfo {

struct ControlClientLimits {
    int timeout_ms = 5000;                   // for connecting, sending, and each read
    size_t max_response = size_t(512) << 20;  // 65,536 connections fit many times over
};

// Sends `request` (one line, newline included) to the failoverd at `path` and returns
// its whole answer. Errors are one line: "no failoverd on PATH (...)" when nothing
// listens there.
Result<std::string> control_request(const std::string& path, const std::string& request,
                                    const ControlClientLimits& limits = {});

}  // namespace tcpfo
