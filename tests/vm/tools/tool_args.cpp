#include "tool_args.h"

#include <algorithm>
#include <charconv>

namespace tcpfo::vmtools {

Result<ToolArgs> ToolArgs::parse(int argc, char** argv, int first,
                                 const std::vector<std::string_view>& known) {
    ToolArgs args;
    for (int i = first; i < argc; i += 2) {
        std::string_view arg = argv[i];
        if (!arg.starts_with("--") ||
            std::find(known.begin(), known.end(), arg.substr(2)) == known.end())
            return fail("unknown option '{}'", arg);
        if (i + 1 >= argc) return fail("option '{}' needs a value", arg);
        args.values_[std::string(arg.substr(2))] = argv[i + 1];
    }
    return args;
}

Result<std::string> ToolArgs::text(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fail("missing option --{}", name);
    return it->second;
}

std::string ToolArgs::text_or(std::string_view name, std::string fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

Result<uint64_t> ToolArgs::number(std::string_view name) const {
    auto value = text(name);
    if (!value) return std::unexpected(value.error());
    const std::string& s = *value;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end == s.data()) return fail("--{} {}: not a number", name, s);
    std::string_view suffix(end, s.data() + s.size() - end);
    int shift = suffix == "" ? 0 : suffix == "K" ? 10 : suffix == "M" ? 20 : suffix == "G" ? 30 : -1;
    if (shift < 0) return fail("--{} {}: unknown suffix '{}' (K, M or G)", name, s, suffix);
    if (shift > 0 && n > (UINT64_MAX >> shift)) return fail("--{} {}: too large", name, s);
    return n << shift;
}

Result<uint64_t> ToolArgs::number_or(std::string_view name, uint64_t fallback) const {
    if (!values_.contains(name)) return fallback;
    return number(name);
}

}  // namespace tcpfo::vmtools
