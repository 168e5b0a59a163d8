// Closes the TCP sockets a silent node still holds for the service address, so that it
// can rejoin as a backup without a restart (docs/architecture.md, "Rejoining without a
// restart"). The service (and a takeover's splices) keep connections the node that now
// serves has taken over; left open, their retransmissions, window probes or FINs would
// reach those clients again the day this node holds the VIP. SOCK_DESTROY (inet_diag,
// `ss -K`) ends each one at once; the reset the kernel sends for it is dropped by the
// frozen egress hook, so no client sees it, and the service gets ECONNABORTED.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <string>
#include <vector>

#include "userd/base/error.h"
#include "userd/protocol/conn_key.h"

namespace tcpfo {

struct ClosedSockets {
    std::vector<ConnKey> closed;  // each socket closed (its 4-tuple, as the hooks key it)
    size_t failed = 0;            // SOCK_DESTROY refused (gone in between does not count)
    std::string first_error;      // why the first refused one was refused
};

// Every TCP socket of this network namespace whose local end is vip:port, listeners and
// TIME_WAIT excepted (they send nothing unasked, and the clients' segments go to the
// VIP's new holder). `vip` in network order, `port` in host order. Only the dump
// failing is an error; a refused close is counted.
Result<ClosedSockets> close_sockets_of(in_addr_t vip, uint16_t port);

}  // namespace tcpfo
