// failoverctl's command line, apart from main() so unit tests can reach it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "userd/base/error.h"
#include "userd/status/control_protocol.h"

namespace tcpfo {

struct CtlCommandLine {
    enum class Command { status, handover, genkey };
    bool help = false;  // --help: print the usage, nothing else
    std::string control = kDefaultControlPath;
    Command command = Command::status;
    std::optional<uint64_t> conn;     // status --conn ID
    std::optional<std::string> node;  // handover NODE
    std::optional<std::string> key_path;  // genkey PATH (none: the key line on stdout)
};

// An error is a usage error: one line, without the program's name.
Result<CtlCommandLine> parse_ctl_command_line(int argc, char** argv);

}  // namespace tcpfo
