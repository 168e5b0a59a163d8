// The kernel-module backend of Hooks (kmod/tcpfo.ko, `failoverd --hooks kmod`): talks
// to the module's generic netlink family "tcpfo" through libmnl. The only code in
// userd/ that knows that interface (kmod/tcpfo_genl.h).
//
// Two netlink sockets: the event socket configures the namespace (it becomes the
// module's listener, and its closing, when failoverd exits or dies, makes the hooks
// inert) and receives every event; the request socket carries the commands and
// their replies, so a reply never waits behind events.
//
// What the module does not do yet: notice the service's death (the BPF programs'
// raw tracepoint, TCPFO_EV_SERVICE_DIED); with the module a dying service's sockets
// close toward the clients as without tcpfo.
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpf/tcpfo_events.h"
#include "userd/base/error.h"
#include "userd/hooks/hooks.h"

struct mnl_socket;
struct nlmsghdr;

namespace tcpfo {

class KmodHooks final : public Hooks {
public:
    // The module's family, if it is loaded (auto: the module when it is loaded).
    static bool module_loaded();
    // Configures the current network namespace's hooks for VIP:PORT.
    static Result<std::unique_ptr<KmodHooks>> attach(const SnoopConfig& config);
    ~KmodHooks() override;  // closing the event socket deconfigures the namespace
    KmodHooks(const KmodHooks&) = delete;
    KmodHooks& operator=(const KmodHooks&) = delete;

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
    bool frozen() const override;
    // From the heartbeat thread: on a socket of its own, not waiting for an answer.
    void set_lease_deadline(uint64_t until_ms) override;
    HookStats stats() const override;

    // Events the kernel could not deliver (the event socket's buffer was full: the
    // module counts each in ring_drops too; this counts the overruns reported).
    uint64_t overruns() const { return overruns_; }

private:
    struct SocketCloser {
        void operator()(mnl_socket* s) const;
    };
    using Socket = std::unique_ptr<mnl_socket, SocketCloser>;
    struct ConnReply {
        tcpfo_conn_state state{};
        uint32_t server_ack = 0;
    };

    KmodHooks() = default;
    // One command on the request socket; its reply's attributes (or just the ACK).
    Result<ConnReply> conn_request(uint8_t cmd, const tcpfo_conn_key& key, std::optional<uint32_t> seq) const;
    Result<void> command(uint8_t cmd, const std::function<void(nlmsghdr*)>& add_attrs) const;
    // One request and its replies on the request socket; notices an unloaded module.
    Result<void> transact_request(nlmsghdr* request, const std::function<void(const nlmsghdr*)>& on_reply) const;

    Socket events_;
    Socket requests_;
    Socket lease_;  // the heartbeat thread's (set_lease_deadline)
    uint16_t family_ = 0;
    mutable uint32_t seq_ = 0;
    bool frozen_ = false;
    bool takeover_mode_ = false;
    mutable bool module_gone_ = false;  // said once; every request fails at once from then on
    uint64_t overruns_ = 0;
    std::vector<uint8_t> buffer_;  // receives events
    // The reply to the last SET_STABLE: conn_state() and server_ack() right after it
    // (a nudge) are answered without another round trip.
    mutable std::optional<std::pair<tcpfo_conn_key, ConnReply>> last_reply_;
};

}  // namespace tcpfo
