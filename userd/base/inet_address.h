// Parsing and printing IPv4 endpoints for the command line and log lines.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "userd/base/error.h"

namespace tcpfo {

struct Prefix {
    in_addr_t addr = 0;  // network order
    int length = 32;
};

// "192.0.2.11:7100" or "192.0.2.11" (then default_port).
Result<sockaddr_in> parse_endpoint(std::string_view text, uint16_t default_port);
// "192.0.2.100/24" or "192.0.2.100" (a /32).
Result<Prefix> parse_prefix(std::string_view text);
std::string to_string(const sockaddr_in& endpoint);
std::string addr_to_string(in_addr_t network_order);
sockaddr_in make_endpoint(in_addr_t network_order_addr, uint16_t host_order_port);

}  // namespace tcpfo
