// The probe of tcp, http and banner checks: a nonblocking connect within the connect
// timeout, an optional request, then what the service sends, judged as it arrives,
// within the receive timeout.
#pragma once

#include <netinet/in.h>

#include <optional>
#include <string>
#include <string_view>

#include "userd/health/probe.h"

namespace tcpfo {

// Judges what arrived so far (`closed`: the service closed or the buffer is full, no
// more will come). nullopt: not decided yet, read on.
using ResponseJudge = std::function<std::optional<ProbeOutcome>(std::string_view received, bool closed)>;

struct SocketProbeConfig {
    sockaddr_in target{};
    int connect_timeout_ms = 1000;
    int receive_timeout_ms = 1000;
    std::string request;    // sent once connected ("" : nothing)
    ResponseJudge judge;    // empty: a completed connect is the success (tcp)
    // What arrived beyond this is not read: the judge gets closed = true.
    size_t max_response = 1 << 20;
    // The reason when the receive timeout passes with some bytes received (a banner
    // check says "banner mismatch"); "" : the timeout's reason.
    std::string reason_if_partial_at_timeout;
};

Result<std::unique_ptr<Probe>> start_socket_probe(EventLoop& loop, SocketProbeConfig config, Probe::Done done);

}  // namespace tcpfo
