// The primary's BPF hooks (bpf/snoop.bpf.c) seen from failoverd: attach them to the
// service interface, read their events, and steer the ACK clamp. The only code in
// userd/ that touches libbpf.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <linux/types.h>

#include "error.h"
#include "tcpfo_events.h"
#include "snoop.h"

struct snoop_bpf;
struct ring_buffer;

namespace tcpfo {

struct SnoopConfig {
    std::string dev;     // interface holding the VIP (ignored by BpfSnoop::load)
    in_addr_t vip_addr;  // network order
    uint16_t vip_port;   // host order
};

class BpfSnoop {
public:
    // Opens the skeleton, sets the VIP, loads, creates clsact on dev if absent and
    // attaches the ingress and egress programs.
    static Result<std::unique_ptr<BpfSnoop>> attach(const SnoopConfig& config);
    // Loads without attaching: for BPF_PROG_TEST_RUN (see ingress_prog_fd()).
    static Result<std::unique_ptr<BpfSnoop>> load(const SnoopConfig& config);

    // Detaches both filters (and removes clsact if attach() created it), in the
    // network namespace attach() ran in, whichever namespace the caller is in now.
    ~BpfSnoop();
    BpfSnoop(const BpfSnoop&) = delete;
    BpfSnoop& operator=(const BpfSnoop&) = delete;

    // Becomes readable when events are waiting (epoll it, then drain()).
    int event_fd() const;

    using EventHandler = std::function<void(const tcpfo_event&, std::span<const uint8_t>)>;
    // Hands each waiting event to on_event with its payload (empty unless DATA);
    // returns how many were handled. Does not block.
    Result<size_t> drain(const EventHandler& on_event);

    // The egress clamp never lets the client see an ACK above stable_seq (absolute, in
    // the client's sequence space). Fails if the connection is not known.
    Result<void> set_stable(const tcpfo_conn_key& key, uint32_t stable_seq);
    Result<tcpfo_conn_state> conn_state(const tcpfo_conn_key& key) const;
    // The highest ACK the server's own stack sent (before clamping). A nudge must ack
    // min(stable point, server_ack) in sequence order: the hooks log segments the
    // server's TCP may still drop, and the client must never be told those arrived.
    Result<uint32_t> server_ack(const tcpfo_conn_key& key) const;
    // Stops protecting a connection (removes it from every table).
    void forget(const tcpfo_conn_key& key);
    // After takeover: protect a connection rebuilt with TCP_REPAIR (clamp to
    // stable_seq, state for nudges) and enable its ack ceiling.
    Result<void> adopt(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t stable_seq);
    // Enables only the ack ceiling (client ACKs lowered to the local socket's snd_nxt).
    Result<void> mark_rebuilt(const tcpfo_conn_key& key);

    // Takeover, before the connection's socket is rebuilt: the ingress hook drops every
    // client segment of it (the VIP may be local already, and the stack would answer
    // with a RST) and records where the client is (see tcpfo_held_client in snoop.h).
    // Holding a held connection keeps its record. Fails if the table is full
    // (TCPFO_MAX_CONNS entries).
    Result<void> hold(const tcpfo_conn_key& key);
    // The record of a held connection (fails if it is not held).
    Result<tcpfo_held_client> held(const tcpfo_conn_key& key) const;
    // Ends the hold: segments reach the stack again. mark_rebuilt() lets them through
    // too, while the record goes on being updated until release().
    void release(const tcpfo_conn_key& key);
    // Takeover mode: client segments to VIP:PORT that match no held, rebuilt or
    // protected connection and no local socket (a listener does not count) are dropped
    // instead of being answered with a RST. SYNs pass.
    void set_takeover_mode(bool on);
    bool takeover_mode() const;

    struct Stats {
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
    };
    Stats stats() const;

    // For BPF_PROG_TEST_RUN.
    int ingress_prog_fd() const;
    int egress_prog_fd() const;

private:
    BpfSnoop() = default;
    static Result<std::unique_ptr<BpfSnoop>> open_and_load(const SnoopConfig& config);
    Result<void> attach_to(const std::string& dev);
    static int on_ring_record(void* ctx, void* data, size_t size);

    snoop_bpf* skel_ = nullptr;
    ring_buffer* ring_ = nullptr;
    void detach();
    int ifindex_ = 0;
    int netns_fd_ = -1;  // the namespace of ifindex_
    bool created_clsact_ = false;
    bool ingress_attached_ = false;
    bool egress_attached_ = false;
    const EventHandler* handler_ = nullptr;  // set only during drain()
    size_t malformed_records_ = 0;
};

// "192.0.2.1:40000->192.0.2.100:7000", for error and log lines.
std::string format_conn_key(const tcpfo_conn_key& key);

}  // namespace tcpfo
