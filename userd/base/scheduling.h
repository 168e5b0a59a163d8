// Real-time priority for the parts of failoverd that must not wait for the CPU behind
// the services it protects (heartbeats, a takeover), and back.
#pragma once

#include <sys/types.h>

namespace tcpfo {

// Puts thread `tid` (0: the calling one) under SCHED_FIFO at `priority`; 0 does
// nothing. A failure is logged once per call, naming `what`, and is not fatal.
void raise_to_realtime(pid_t tid, int priority, const char* what);
// The calling thread back to the normal scheduler, if it was real-time.
void back_to_normal_priority();

}  // namespace tcpfo
