#include "tool_args.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace tcpfo::streamtest {

Result<sockaddr_in> parse_endpoint(std::string_view option, std::string_view value) {
    auto colon = value.rfind(':');
    if (colon == std::string_view::npos)
        return fail("{}: expected ADDR:PORT, got '{}'", option, value);
    std::string host(value.substr(0, colon));
    auto port = parse_uint(option, value.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535)
        return fail("{}: bad port in '{}'", option, value);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(*port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
        return fail("{}: bad IPv4 address in '{}'", option, value);
    return addr;
}

Result<std::uint64_t> parse_uint(std::string_view option, std::string_view value) {
    std::uint64_t number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc{} || end != value.data() + value.size() || value.empty())
        return fail("{}: expected a non-negative integer, got '{}'", option, value);
    return number;
}

Result<std::uint64_t> parse_size(std::string_view option, std::string_view value) {
    std::uint64_t scale = 1;
    if (!value.empty()) {
        switch (value.back()) {
            case 'K': case 'k': scale = 1ull << 10; break;
            case 'M': case 'm': scale = 1ull << 20; break;
            case 'G': case 'g': scale = 1ull << 30; break;
            default: break;
        }
        if (scale != 1) value.remove_suffix(1);
    }
    auto number = parse_uint(option, value);
    if (!number) return fail("{}: expected a size like 4096, 64K, 64M or 1G, got '{}{}'",
                             option, value, scale == 1 ? "" : "<suffix>");
    if (*number > UINT64_MAX / scale) return fail("{}: size too large", option);
    return *number * scale;
}

Result<double> parse_positive_double(std::string_view option, std::string_view value) {
    std::string text(value);
    char* end = nullptr;
    double number = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(number > 0))
        return fail("{}: expected a positive number, got '{}'", option, value);
    return number;
}

}  // namespace tcpfo::streamtest
