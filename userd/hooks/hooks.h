// The kernel hooks seen from failoverd, whichever backend implements them: the eBPF
// programs (bpf_snoop.h) by default, the kernel module where modules can be loaded.
// They learn protected connections, report the client's bytes and the connection
// events, clamp the ACKs the client sees to the stable point, and after a takeover
// keep rebuilt connections in step with their clients.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <linux/types.h>

#include "bpf/tcpfo_events.h"
// After tcpfo_events.h, which it builds on: the hold record.
#include "bpf/snoop.h"
#include "userd/base/error.h"

namespace tcpfo {

struct SnoopConfig {
    std::string dev;     // interface holding the VIP (ignored by BpfSnoop::load)
    in_addr_t vip_addr;  // network order
    uint16_t vip_port;   // host order
};

struct HookStats {
    uint64_t events = 0;            // records written to the ring buffer
    uint64_t ring_drops = 0;        // records lost because the ring buffer was full
    uint64_t acks_clamped = 0;      // egress ACKs lowered to the stable point
    uint64_t dup_acks_dropped = 0;  // clamped pure ACKs dropped as duplicates
    uint64_t table_full = 0;        // connections left unprotected: a table was full
    uint64_t acks_ceiled = 0;       // ingress ACKs lowered by the ack ceiling
    uint64_t seqs_lifted = 0;       // rebuilt sockets' pure ACKs lifted into the client's window
    uint64_t rsts_held = 0;         // socketless kernel RSTs of protected connections dropped
    uint64_t held_dropped = 0;      // client segments of held connections dropped
    uint64_t takeover_dropped = 0;  // takeover mode: segments of no known connection dropped
    uint64_t digest_failures = 0;   // server segments whose payload could not be digested
    uint64_t frozen_dropped = 0;    // egress segments from VIP:PORT dropped while frozen (handover)
    uint64_t service_died = 0;      // protected sockets closed by the service's exiting process
    uint64_t socket_acks = 0;       // kernel module: ACKs sent from the server's socket (no nudge needed)
    uint64_t data_refused = 0;      // client segments whose payload TCP refuses (bad checksum, beyond its window, ...)
    uint64_t lease_dropped = 0;     // egress segments from VIP:PORT dropped: the lease had run out
};

// The counters from the hooks' statistics slots (bpf/snoop.h), whichever backend
// counted them.
inline HookStats hook_stats_from_slots(const uint64_t (&totals)[TCPFO_STAT_COUNT]) {
    HookStats s;
    s.events = totals[TCPFO_STAT_EVENTS];
    s.ring_drops = totals[TCPFO_STAT_RING_DROPS];
    s.acks_clamped = totals[TCPFO_STAT_ACKS_CLAMPED];
    s.dup_acks_dropped = totals[TCPFO_STAT_DUP_ACKS_DROPPED];
    s.table_full = totals[TCPFO_STAT_TABLE_FULL];
    s.acks_ceiled = totals[TCPFO_STAT_ACKS_CEILED];
    s.seqs_lifted = totals[TCPFO_STAT_SEQS_LIFTED];
    s.rsts_held = totals[TCPFO_STAT_RSTS_HELD];
    s.held_dropped = totals[TCPFO_STAT_HELD_DROPPED];
    s.takeover_dropped = totals[TCPFO_STAT_TAKEOVER_DROPPED];
    s.digest_failures = totals[TCPFO_STAT_DIGEST_FAILURES];
    s.frozen_dropped = totals[TCPFO_STAT_FROZEN_DROPPED];
    s.service_died = totals[TCPFO_STAT_SERVICE_DIED];
    s.socket_acks = totals[TCPFO_STAT_SOCKET_ACKS];
    s.data_refused = totals[TCPFO_STAT_DATA_REFUSED];
    s.lease_dropped = totals[TCPFO_STAT_LEASE_DROPPED];
    return s;
}

class Hooks {
public:
    virtual ~Hooks() = default;

    // Becomes readable when events are waiting (epoll it, then drain()).
    virtual int event_fd() const = 0;

    using EventHandler = std::function<void(const tcpfo_event&, std::span<const uint8_t>)>;
    // Hands each waiting event to on_event with its payload (empty unless DATA);
    // returns how many were handled. Does not block.
    virtual Result<size_t> drain(const EventHandler& on_event) = 0;

    // The egress clamp never lets the client see an ACK above stable_seq (absolute, in
    // the client's sequence space). Fails if the connection is not known.
    virtual Result<void> set_stable(const tcpfo_conn_key& key, uint32_t stable_seq) = 0;
    virtual Result<tcpfo_conn_state> conn_state(const tcpfo_conn_key& key) const = 0;
    // The highest ACK the server's own stack sent (before clamping). A nudge must ack
    // min(stable point, server_ack) in sequence order: the hooks log segments the
    // server's TCP may still drop, and the client must never be told those arrived.
    virtual Result<uint32_t> server_ack(const tcpfo_conn_key& key) const = 0;
    // Stops protecting a connection (removes it from every table).
    virtual void forget(const tcpfo_conn_key& key) = 0;
    // After takeover: protect a connection rebuilt with TCP_REPAIR (clamp to
    // stable_seq, state for nudges) and enable its ack ceiling.
    virtual Result<void> adopt(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t stable_seq) = 0;
    // Enables only the ack ceiling (client ACKs lowered to the local socket's snd_nxt).
    virtual Result<void> mark_rebuilt(const tcpfo_conn_key& key) = 0;

    // Takeover, before the connection's socket is rebuilt: the ingress hook drops every
    // client segment of it (the VIP may be local already, and the stack would answer
    // with a RST) and records where the client is (tcpfo_held_client in bpf/snoop.h).
    // Holding a held connection keeps its record. Fails if the table is full.
    virtual Result<void> hold(const tcpfo_conn_key& key) = 0;
    // The record of a held connection (fails if it is not held).
    virtual Result<tcpfo_held_client> held(const tcpfo_conn_key& key) const = 0;
    // Every hold record at once (a few syscalls for thousands: the takeover reads them
    // all while it waits for the clients' answers), into `out`, replacing what it held:
    // the caller keeps one buffer for every read (fresh pages are costly to touch).
    using HeldRecords = std::vector<std::pair<tcpfo_conn_key, tcpfo_held_client>>;
    virtual Result<void> all_held(HeldRecords& out) const = 0;
    // Ends the hold: segments reach the stack again. mark_rebuilt() lets them through
    // too, while the record goes on being updated until release().
    virtual void release(const tcpfo_conn_key& key) = 0;
    // release() for many at once (the takeover ends thousands of holds together).
    virtual void release_all(std::span<const tcpfo_conn_key> keys) = 0;
    // Takeover mode: client segments to VIP:PORT that match no held, rebuilt or
    // protected connection and no local socket (a listener does not count) are dropped
    // instead of being answered with a RST. SYNs pass.
    virtual void set_takeover_mode(bool on) = 0;
    virtual bool takeover_mode() const = 0;
    // Frozen (a planned handover: this node falls silent): every segment from VIP:PORT
    // toward a client is dropped at egress, nudges included, whatever the service
    // writes, until unfrozen. failoverd never unfreezes by itself.
    virtual void set_frozen(bool on) = 0;
    virtual bool frozen() const = 0;
    // The primary's lease (docs/architecture.md, "Leases and fencing"): from
    // `until_ms` (CLOCK_MONOTONIC, ms) on, every segment from VIP:PORT is dropped at
    // egress as when frozen, whether failoverd still runs or not. 0: no lease enforced.
    // Safe to call from any thread (the heartbeat thread renews it).
    virtual void set_lease_deadline(uint64_t until_ms) = 0;

    virtual HookStats stats() const = 0;
};

}  // namespace tcpfo
