// Announcing that an IPv4 address moved to this node: gratuitous ARP on one interface.
#pragma once

#include <netinet/in.h>

#include <string>

#include "error.h"

namespace tcpfo {

// Broadcasts `count` ARP requests with sender = target = addr and this interface's MAC
// as sender hardware address (an RFC 5227 announcement), back to back. Neighbours that
// already cache addr replace the old MAC at once (Linux overrides its lock time for a
// gratuitous ARP), so the clients' next segments come here. It does not wait between
// copies: takeover must not block on it; a caller wanting spaced repeats calls again
// from its own timer. The interface must be up and Ethernet.
Result<void> send_gratuitous_arp(const std::string& dev, in_addr_t addr, int count = 3);

}  // namespace tcpfo
