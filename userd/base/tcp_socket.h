// Plain TCP sockets the daemon opens: replication links and replica connections.
#pragma once

#include <netinet/in.h>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"

namespace tcpfo {

// Starts a nonblocking TCP connect with TCP_NODELAY.
Result<UniqueFd> connect_nonblocking(const sockaddr_in& to, const sockaddr_in* from = nullptr);
// A nonblocking listening TCP socket with SO_REUSEADDR.
Result<UniqueFd> listen_tcp(const sockaddr_in& at);

}  // namespace tcpfo
