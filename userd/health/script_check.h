// type = "script": a program run without a shell; exit status 0 is up. It must finish
// within the receive timeout or it is killed ("timeout after N ms").
#pragma once

#include "userd/health/probe.h"

namespace tcpfo {

Result<std::unique_ptr<Probe>> start_script_probe(EventLoop& loop, const CheckSpec& spec, Probe::Done done);
// "a b  c" -> {"a", "b", "c"}
std::vector<std::string> split_command(std::string_view text);

}  // namespace tcpfo
