// Finishing thousands of rebuilds through io_uring. The steps of every connection
// (repair_steps.h) go to the kernel in waves, the first step of every socket, then
// the second of every socket, and so on, thousands per io_uring_enter() instead of one
// syscall each: the order within a socket is kept, sockets are independent. On these
// machines a syscall costs ~1.7 µs of entry and exit alone, and a rebuild is 8 of
// them; through the ring the 8 steps cost ~3 µs per socket (docs/performance.md).
//
// Needs setsockopt as an io_uring command (IORING_OP_URING_CMD with
// SOCKET_URING_OP_SETSOCKOPT, Linux 6.7). Where the kernel lacks it (Debian 12's 6.1)
// or io_uring is disabled (kernel.io_uring_disabled), rebuild_batch_uring() says so
// and the caller rebuilds with one syscall per step.
#pragma once

#include <span>
#include <vector>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"
#include "userd/takeover/tcp_repair.h"

namespace tcpfo {

// results[i] becomes job i's socket or its one-line error (the same lines
// finish_rebuild() gives); false, with no job touched, when io_uring cannot be used
// here. Several threads may run it at once on different jobs (a ring each).
bool rebuild_batch_uring(std::span<RebuildJob> jobs, std::span<Result<UniqueFd>> results);

// Whether rebuild_batch_uring() can run on this kernel (checked once, then cached).
bool uring_rebuild_available();

}  // namespace tcpfo
