// The value of a command-line flag, for the small tools whose options are a handful
// (failoverctl, tcpfo-run): `--flag=VALUE` or `--flag VALUE`.
#pragma once

#include <optional>
#include <string_view>

namespace tcpfo {

// nullopt when argv[i] is not `flag`; an empty value when the flag ends the command
// line; otherwise the value, and `i` moves past it when it was a separate word.
inline std::optional<std::string_view> flag_value(std::string_view flag, int& i, int argc, char** argv) {
    const std::string_view arg = argv[i];
    if (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag && arg[flag.size()] == '=')
        return arg.substr(flag.size() + 1);
    if (arg != flag) return std::nullopt;
    if (i + 1 >= argc) return std::string_view();
    return std::string_view(argv[++i]);
}

}  // namespace tcpfo
