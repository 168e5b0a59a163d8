// The eBPF backend of Hooks (bpf/snoop.bpf.c, embedded as a skeleton): attaches the
// programs to the service interface, reads their ring buffer and steers their maps.
// The only code in userd/ that touches libbpf.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <linux/types.h>

#include "userd/base/error.h"
#include "userd/hooks/hooks.h"
#include "bpf/tcpfo_events.h"

struct snoop_bpf;
struct ring_buffer;
struct bpf_link;

namespace tcpfo {

class BpfSnoop final : public Hooks {
public:
    // Opens the skeleton, sets the VIP, loads, creates clsact on dev if absent and
    // attaches the ingress and egress programs.
    static Result<std::unique_ptr<BpfSnoop>> attach(const SnoopConfig& config);
    // Loads without attaching: for BPF_PROG_TEST_RUN (see ingress_prog_fd()).
    static Result<std::unique_ptr<BpfSnoop>> load(const SnoopConfig& config);

    // Detaches both filters (and removes clsact if attach() created it), in the
    // network namespace attach() ran in, whichever namespace the caller is in now.
    ~BpfSnoop() override;
    BpfSnoop(const BpfSnoop&) = delete;
    BpfSnoop& operator=(const BpfSnoop&) = delete;

    // Hooks (see hooks.h).
    int event_fd() const override;
    Result<size_t> drain(const EventHandler& on_event) override;
    Result<void> set_stable(const tcpfo_conn_key& key, uint32_t stable_seq) override;
    Result<tcpfo_conn_state> conn_state(const tcpfo_conn_key& key) const override;
    Result<uint32_t> server_ack(const tcpfo_conn_key& key) const override;
    void forget(const tcpfo_conn_key& key) override;
    Result<void> adopt(const tcpfo_conn_key& key, const tcpfo_conn_state& state, uint32_t stable_seq) override;
    Result<void> mark_rebuilt(const tcpfo_conn_key& key) override;
    Result<void> hold(const tcpfo_conn_key& key) override;
    Result<tcpfo_held_client> held(const tcpfo_conn_key& key) const override;
    Result<void> all_held(HeldRecords& out) const override;
    void release(const tcpfo_conn_key& key) override;
    void release_all(std::span<const tcpfo_conn_key> keys) override;
    void set_takeover_mode(bool on) override;
    bool takeover_mode() const override;
    void set_frozen(bool on) override;
    void set_lease_deadline(uint64_t until_ms) override;
    bool frozen() const override;
    HookStats stats() const override;

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
    bpf_link* service_death_link_ = nullptr;  // raw tracepoint inet_sock_set_state (snoop.bpf.c)
    const EventHandler* handler_ = nullptr;  // set only during drain()
    size_t malformed_records_ = 0;
};

}  // namespace tcpfo
