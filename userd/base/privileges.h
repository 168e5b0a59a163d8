// Least privilege: once failoverd has started (BPF loaded, VIP claimed, sockets
// bound, limits raised), it keeps only the capabilities it still uses, in every
// thread (capabilities are per thread on Linux):
//   CAP_NET_ADMIN  the VIP, tc, TCP_REPAIR, IP_TRANSPARENT, SO_MARK;
//   CAP_NET_RAW    the raw sockets of nudges, probes and gratuitous ARP;
//   CAP_BPF        every bpf() call on its maps (unprivileged BPF is off on Debian);
//                  CAP_SYS_ADMIN instead on a kernel older than CAP_BPF;
//   CAP_SYS_NICE   SCHED_FIFO for a takeover and the heartbeat thread's verdicts.
#pragma once

#include <string>

#include "userd/base/error.h"

namespace tcpfo {

// Drops every other capability (effective, permitted, bounding) in the calling thread
// and asks the other threads that call follow_capability_drop() to do the same.
// Returns the kept ones' names ("cap_net_admin, ...") for the log.
Result<std::string> keep_only_needed_capabilities();
// For a thread of its own loop (the heartbeat thread): applies a drop the main thread
// made since this thread last looked. Cheap when nothing changed (one atomic load).
void follow_capability_drop();

}  // namespace tcpfo
