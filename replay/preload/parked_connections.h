// Replay: feeder connections the replica's listening socket produced before the
// recorded accept that wants them. A recorded accept hands the replica one particular
// client's feeder; the kernel queues feeders in the order the backup opened them, so
// the others accepted on the way are parked here until their own accept comes (or,
// after the replica goes live, handed out first by accept: a client the primary had
// not accepted yet must not be lost).
//
// Parked descriptors sit at high numbers (F_DUPFD_CLOEXEC from kParkBase, or lower when
// RLIMIT_NOFILE is lower) so that they do not take the numbers the replica's next
// accepts and opens must get to match the primary's. Main thread only, except
// parked_count(), which any thread may read.
#pragma once

#include <cstdint>

namespace tcpfo::preload {

inline constexpr int kMaxParked = 256;
// Below FdBitset::kLimit (65536), so that a parked connection handed out can be marked.
inline constexpr int kParkBase = 60000;

struct Parked {
    int fd = -1;
    uint16_t peer_port = 0;
};

// Moves `fd` (accepted on `listen_fd` from peer port `peer_port`) to a high number and
// parks it. False when the queue is full or no high number is free (the caller keeps
// `fd`, and errno says why for the latter).
bool park_connection(int listen_fd, int fd, uint16_t peer_port);

// Takes the parked connection of `listen_fd` from `peer_port`, or the oldest one of
// `listen_fd` when `any`. fd -1 when there is none.
Parked take_parked(int listen_fd, uint16_t peer_port, bool any = false);

// How many are parked, on all listening sockets / on one.
int parked_count();
bool has_parked(int listen_fd);
// The listening sockets with parked connections, each once, up to `max`; the count.
int parked_listeners(int* out, int max);

}  // namespace tcpfo::preload
