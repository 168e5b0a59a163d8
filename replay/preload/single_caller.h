// The input order is one order only when one thread of one process uses the clients'
// connections: the main thread, whose calls are recorded and replayed. Another thread
// calling read, write, accept or a wait on a client connection, the recorded listening
// socket or a recorded epoll instance, or a forked child using a client connection,
// makes an order no log can give a replica. Those are refused here, with one line:
// - another thread: once. Record: recording and output commit stop (the service runs
//   on unprotected). Replay: the replica goes live and tells failoverd (it diverged).
// - a forked child: the child exits (status 87). Its parent's log cannot describe the
//   child's use, and the parent cannot be told; a child that never touches a client
//   connection (a snapshot fork) is not affected.
#pragma once

namespace tcpfo::preload {

inline constexpr int kForeignChildExit = 87;

// Call when `call` on `fd` (a client connection, or a listening or epoll descriptor
// the main thread records) was found pass-through: refuses it if the caller is another
// thread or a child of a recording or replaying process, else does nothing.
void check_single_caller(const char* call, int fd);

}  // namespace tcpfo::preload
