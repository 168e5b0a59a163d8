// A node listed as the primary listens to its peers' heartbeats before it claims the
// VIP (start_decision.h): this is the listening half, the kernel-facing one.
#pragma once

#include "userd/base/error.h"
#include "userd/base/event_loop.h"
#include "userd/config/options.h"
#include "userd/node/start_decision.h"

namespace tcpfo {

// Binds the heartbeat socket on this node's address for start_listen_ms() (sending
// heartbeats as a backup at epoch 0 meanwhile, so a running primary is not disturbed)
// and returns what was heard; returns early once a peer announced an epoch. The
// socket is closed again before it returns: the role that starts binds its own.
Result<StartHearing> listen_before_start(EventLoop& loop, const Options& options);

}  // namespace tcpfo
