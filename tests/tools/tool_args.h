// Command-line value parsing shared by the test tools: each parser returns a one-line
// error naming the option and the bad value.
#pragma once

#include <cstdint>
#include <string_view>

#include <netinet/in.h>

#include "userd/base/error.h"

namespace tcpfo::streamtest {

// "192.0.2.100:7000" (IPv4 only: the test segment is 192.0.2.0/24).
Result<sockaddr_in> parse_endpoint(std::string_view option, std::string_view value);
// "64M", "1G", "4096", "1.5K" is refused: sizes are whole bytes with an optional
// binary suffix K, M or G.
Result<std::uint64_t> parse_size(std::string_view option, std::string_view value);
Result<std::uint64_t> parse_uint(std::string_view option, std::string_view value);
Result<double> parse_positive_double(std::string_view option, std::string_view value);

}  // namespace tcpfo::streamtest
