#include "userd/base/inet_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace tcpfo {
namespace {

Result<in_addr_t> parse_ipv4(std::string_view text) {
    std::string s(text);
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) return fail("'{}' is not an IPv4 address", text);
    return a.s_addr;
}

template <class T>
Result<T> parse_number(std::string_view text, T min, T max, const char* what) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
        return fail("'{}' is not a valid {} ({}-{})", text, what, min, max);
    return value;
}

}  // namespace

Result<sockaddr_in> parse_endpoint(std::string_view text, uint16_t default_port) {
    uint16_t port = default_port;
    std::string_view host = text;
    if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        auto p = parse_number<uint32_t>(text.substr(colon + 1), 1, 65535, "port");
        if (!p) return std::unexpected(p.error());
        port = uint16_t(*p);
    }
    auto addr = parse_ipv4(host);
    if (!addr) return std::unexpected(addr.error());
    return make_endpoint(*addr, port);
}

Result<Prefix> parse_prefix(std::string_view text) {
    Prefix prefix;
    std::string_view host = text;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        host = text.substr(0, slash);
        auto len = parse_number<int>(text.substr(slash + 1), 1, 32, "prefix length");
        if (!len) return std::unexpected(len.error());
        prefix.length = *len;
    }
    auto addr = parse_ipv4(host);
    if (!addr) return std::unexpected(addr.error());
    prefix.addr = *addr;
    return prefix;
}

std::string addr_to_string(in_addr_t network_order) {
    char buf[INET_ADDRSTRLEN] = {};
    in_addr a{network_order};
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::string to_string(const sockaddr_in& endpoint) {
    return addr_to_string(endpoint.sin_addr.s_addr) + ":" + std::to_string(ntohs(endpoint.sin_port));
}

sockaddr_in make_endpoint(in_addr_t network_order_addr, uint16_t host_order_port) {
    sockaddr_in e{};
    e.sin_family = AF_INET;
    e.sin_addr.s_addr = network_order_addr;
    e.sin_port = htons(host_order_port);
    return e;
}

}  // namespace tcpfo
