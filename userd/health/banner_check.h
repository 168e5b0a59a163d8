// type = "banner": what the service says first (SSH, SMTP, POP3 greet before the
// client speaks) matches `banner`, an ECMAScript regular expression, within the
// receive timeout.
#pragma once

#include <regex>

#include "userd/health/socket_probe.h"

namespace tcpfo {

// The expression compiled, or the problem (the config file names the key).
Result<std::regex> compile_banner(const std::string& expression);
SocketProbeConfig banner_probe_config(const CheckSpec& spec);
// A match anywhere in what arrived is up; a first line complete (or the service
// closing) without one is "banner mismatch".
std::optional<ProbeOutcome> judge_banner(const std::regex& banner, std::string_view received, bool closed);

}  // namespace tcpfo
