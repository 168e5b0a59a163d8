// Command-line options of the guest test tools: `--name value` pairs after a verb.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "userd/base/error.h"

namespace tcpfo::vmtools {

class ToolArgs {
public:
    // Accepts only the option names in `known`; anything else is an error.
    static Result<ToolArgs> parse(int argc, char** argv, int first,
                                  const std::vector<std::string_view>& known);

    Result<std::string> text(std::string_view name) const;
    std::string text_or(std::string_view name, std::string fallback) const;
    // A decimal number with an optional K/M/G suffix (powers of 1024).
    Result<uint64_t> number(std::string_view name) const;
    Result<uint64_t> number_or(std::string_view name, uint64_t fallback) const;

private:
    std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace tcpfo::vmtools
