// Rebuilding a live TCP connection on another node with TCP_REPAIR, and reading the
// same state off a live socket (for tests and diagnostics).
//
// Needs CAP_NET_ADMIN (TCP_REPAIR, IP_TRANSPARENT). Tested on Linux 6.x (IPv4 only).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "userd/base/error.h"
#include "userd/base/unique_fd.h"

namespace tcpfo {

// What failoverd knows of a connection when a backup takes it over. The values come
// from the primary's snoop: ISNs and options from the SYN/SYN-ACK, how far the client
// acknowledged the server's bytes, how many client bytes the backup logged.
struct RepairState {
    sockaddr_in local{};      // VIP:port (the service side)
    sockaddr_in remote{};     // the client
    uint32_t snd_una = 0;     // first server byte the client has not acknowledged
    uint32_t snd_nxt = 0;     // first server byte the primary never sent (>= snd_una)
    uint32_t rcv_nxt = 0;     // next client byte the service expects
    uint16_t mss = 0;         // the client's MSS (our sending MSS is clamped to it)
    bool wscale_ok = false;
    uint8_t snd_wscale = 0;   // the client's shift (applies to windows it advertises)
    uint8_t rcv_wscale = 0;   // the server's shift (applies to windows we advertise)
    bool sack_ok = false;
    bool timestamps_ok = false;
    uint32_t tsval = 0;       // TSval the rebuilt socket sends next (>= any the client saw)
    uint32_t snd_wnd = 0;     // the client's receive window in bytes (already scaled)
    uint32_t rcv_wnd = 0;     // window in bytes, from rcv_nxt, to offer the client
};

// "192.0.2.100:7000<-192.0.2.1:40312", for messages.
std::string describe_connection(const sockaddr_in& local, const sockaddr_in& remote);

// Checks what the kernel would reject or misuse (families, ports, scales, windows),
// so a bad snoop record gives one clear line instead of a half-built socket.
Result<void> validate_repair_state(const RepairState& state);

// Rebuilding is split in two so that what does not depend on the sequences is done
// ahead, when the connection opens, and only the rest at takeover:
//
//   prepare_repair_socket()  at connection open: socket (nonblocking, close-on-exec),
//                            TCP_REPAIR on, IP_TRANSPARENT, the MSS, bind to VIP:port,
//                            receive queue selected for finish_rebuild();
//   finish_rebuild()         at takeover: sequences, repaired connect(), options,
//                            timestamp, window, repair off (8 syscalls with empty
//                            queues, 7 without timestamps);
//   rebuild_connection()     both in one go;
//   rebuild_batch()          finish_rebuild() over many sockets: through io_uring
//                            where the kernel allows (repair_ring.h), on two threads
//                            when there are enough of them.
//
// A prepared socket is closed (TCP_CLOSE) and bound with the "force" reuse mode that
// repair mode sets: any number of them may be bound to VIP:port next to the replica's
// 0.0.0.0:port listener, and none of them receives or sends a segment before
// finish_rebuild(). SO_REUSEADDR must never be set on one (it would overwrite that
// mode, and connect() would then fail with EADDRINUSE). Each holds one descriptor.
struct PreparedSocket {
    UniqueFd fd;
    uint16_t mss = 0;  // TCP_MAXSEG already set to this (0: not set yet)
};

// Makes the socket a connection between `local` (VIP:port) and `remote` (the client)
// will be rebuilt on. `mss`, if known at open (the client's MSS from its SYN), is set
// now; finish_rebuild() sets it only if the state's differs. Fails with one line
// naming the connection and the step (EMFILE when the descriptors run out).
Result<PreparedSocket> prepare_repair_socket(const sockaddr_in& local, const sockaddr_in& remote,
                                             uint16_t mss = 0);

// Turns a prepared socket into an ESTABLISHED connection with these sequences and
// options, still bound to VIP:port even while the VIP is not yet local
// (IP_TRANSPARENT), leaves repair mode and returns it, nonblocking. `state.local` and
// `state.remote` must be the addresses the socket was prepared for. On failure the
// socket is closed silently (it is still in repair mode: neither FIN nor RST).
// Safe to call from several threads at once on different sockets.
//
// `sent_unacked` is the output in [snd_una, snd_nxt): bytes the primary sent that the
// client may or may not have. They go into the socket as already sent, because the
// client may have acknowledged any of them in an ACK the primary never saw; a socket
// whose snd_nxt were below that ACK would drop every segment from the client (ACK of
// unsent data) and the connection would stall for good. The kernel retransmits what
// the client still lacks once the client's ACKs say so.
// Known limit: if the client lacks the first of these bytes (they died with the
// primary's link) and so acknowledges nothing new, the socket has no RTT sample and
// more segments in flight than its initial cwnd, so nothing triggers a fast
// retransmission: the first one comes at the initial RTO, 1 s (seen in about a quarter
// of the takeover test runs; a route `rtt` metric on the backup did not change it).
//
// Call it BEFORE the VIP becomes local, or while the hooks drop the connection's
// segments: a client segment reaching this node while the VIP is local and the socket
// does not exist yet is answered with a reset. No segment is sent here; after claiming
// and announcing the VIP call request_ack(), then write() the output from snd_nxt on,
// which the kernel sends at once.
Result<UniqueFd> finish_rebuild(PreparedSocket prepared, const RepairState& state,
                                std::span<const uint8_t> sent_unacked);

// What finish_rebuild() checks before it touches the socket: a prepared socket, a
// valid state, `sent_unacked` exactly [snd_una, snd_nxt).
Result<void> check_rebuild_job(const PreparedSocket& prepared, const RepairState& state,
                               std::span<const uint8_t> sent_unacked);

// prepare_repair_socket() then finish_rebuild(): the state is validated first, so an
// invalid one costs no socket.
Result<UniqueFd> rebuild_connection(const RepairState& state,
                                    std::span<const uint8_t> sent_unacked);

// One connection of a batch: the prepared socket is consumed.
struct RebuildJob {
    PreparedSocket prepared;
    RepairState state;
    std::span<const uint8_t> sent_unacked;  // must stay valid during rebuild_batch()
};

// Batches of at least this many sockets are split across threads (rebuild_batch).
inline constexpr size_t kParallelRebuildMin = 256;
// Batches of at least this many go through io_uring where the kernel allows it: below,
// setting up a ring costs more than it saves.
inline constexpr size_t kUringRebuildMin = 16;

// Finishes every job; result i is job i's socket or its one-line error. With at
// least kParallelRebuildMin jobs the work is split in `max_threads` contiguous parts
// (at most 2, the cores of the machines this runs on), the first done on the calling
// thread; a thread that cannot be started leaves its part to the calling thread. Each
// part goes through io_uring in batches where the kernel takes setsockopt that way
// (Linux 6.7; repair_ring.h), else one syscall per step. Nothing is thrown across
// threads: each job's failure is its own result.
// `use_uring` false forces the threads (tests, comparisons).
std::vector<Result<UniqueFd>> rebuild_batch(std::span<RebuildJob> jobs, unsigned max_threads = 2,
                                            bool use_uring = true);

// Sends one window probe (a segment just below snd_una), which the client answers at
// once with an ACK carrying how far it really got and its window. Needed once after a
// takeover: the rebuilt socket knows only what the primary had seen. Send it after the
// VIP is claimed and announced, and only once: Linux answers such out-of-window
// segments at most once per 500 ms per connection (net.ipv4.tcp_invalid_ratelimit), so
// a probe sent before the client can reach us would silence this one.
Result<void> request_ack(int fd);

// Reads the same fields off a live connected socket: TCP_INFO for the options, in
// repair mode TCP_QUEUE_SEQ, SIOCOUTQ and SIOCOUTQNSD for the sequences, TCP_MAXSEG for the MSS
// clamp, TCP_REPAIR_WINDOW and TCP_TIMESTAMP. Leaves repair mode afterwards without a
// window probe, so the socket stays usable and nothing is put on the wire. snd_una is
// the socket's own (it lags the client if an ACK is still on its way).
Result<RepairState> snapshot_connection(int fd);

// Closes a connected socket without telling the peer: in repair mode the kernel drops
// the connection with neither FIN nor RST, as a crashed node would.
Result<void> close_silently(UniqueFd fd);

}  // namespace tcpfo
