// How many connections a node can hold, decided at start so that a connection beyond
// it is refused when it opens (with one log line, and the primary told) instead of
// failing at takeover. The bound that bites first on a backup is descriptors: it holds
// two per connection, the replica connection and the socket prepared for the rebuild
// (userd/takeover/tcp_repair.h); after takeover the same two become the splice.
#pragma once

#include <cstddef>
#include <cstdint>

#include "userd/base/open_file_limit.h"

namespace tcpfo {

// Descriptors a node needs besides its connections: standard streams, epoll, signal
// and timer fds, the BPF objects (maps, programs, ring buffer), the replication
// listener and links, heartbeats, the packet and netlink sockets of a takeover, the
// control socket and its clients. A running backup uses about 40; the rest is margin.
inline constexpr uint64_t kDescriptorReserve = 128;
inline constexpr uint64_t kBackupDescriptorsPerConnection = 2;

// Connections a backup can hold with `open_files` descriptors, at most `table_bound`
// (the BPF tables).
size_t backup_capacity(uint64_t open_files, size_t table_bound);
// The primary holds no descriptor per connection: its bound is the BPF tables.
size_t primary_capacity(size_t table_bound);

}  // namespace tcpfo
