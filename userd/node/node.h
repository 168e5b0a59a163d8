// One failoverd node, whose role changes at run time (docs/architecture.md, "Roles at
// run time"). It owns the role state machine and composes the role objects; the event
// loop drives it (after_events after every batch of events):
//
//   start ──(listed primary, nobody serves)──────────────────► primary ──(handover)──► handed-over
//     │                                                            ▲ (the takeover serves)
//     └──(listed backup, or a peer serves)──► backup ──► taking-over ┘
//                                                ▲
//         silent or handed-over, a higher epoch serves (rejoin) ─┘
//
// A backup that took over keeps its BackupNode: the takeover's splices go on serving the
// connections it rebuilt (held by no backup: a later crash resets them). Beside it, a
// PrimaryNode takes the hooks, the heartbeat and the VIP and protects the connections
// opened from then on, replicating to the other node when it joins as a backup.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "userd/backup/backup_node.h"
#include "userd/base/event_loop.h"
#include "userd/config/options.h"
#include "userd/node/role_history.h"
#include "userd/primary/primary_node.h"
#include "userd/status/control_server.h"
#include "userd/status/node_status.h"

namespace tcpfo {

class Node {
public:
    // Decides the role (start_decision.h: a node listed as the primary first listens
    // for a serving peer) and starts it.
    static Result<std::unique_ptr<Node>> start(EventLoop& loop, const Options& options);
    ~Node();

    // After every batch of events: the roles' own work, then the transitions (a takeover
    // that serves becomes a primary; a caught-up backup with --preempt asks for the role).
    void after_events();
    // A role that cannot go on (a rejoin that failed half-way): failoverd exits with it.
    const std::optional<std::string>& fatal_error() const { return fatal_error_; }
    bool stop_by_handing_over();
    bool stop_ready() const;
    void shut_down();
    NodeStatus status(StatusDetail detail = StatusDetail::full) const;
    Result<ControlServer::ServiceOffer> offer_service(int pid);
    Result<std::string> handover(const std::optional<std::string>& node);
    // systemd's STATUS= at start.
    std::string start_text() const;

private:
    Node(EventLoop& loop, const Options& options) : loop_(loop), options_(options) {}
    // The takeover serves: a primary for new connections from now on.
    void promote();
    // --preempt on a backup of higher priority than its primary, once caught up.
    void preempt_if_due();
    // A node silent for good (handed over, or it saw a higher epoch) rejoins as a
    // backup of the node that serves (docs/architecture.md, "Rejoining without a
    // restart"): once a higher epoch is heard and two detection times have passed.
    void rejoin_if_due();
    void rejoin(uint64_t serving_epoch);
    // Records the current role when it changed (status: roles).
    void note_role();
    std::string current_role() const;
    uint64_t current_epoch() const;
    // The other node's priority, from the node list (the shorthand has none).
    std::optional<int> primary_priority() const;

    EventLoop& loop_;
    Options options_;  // the role it started in (after the start decision)
    std::unique_ptr<BackupNode> backup_;    // started or joined as a backup; kept after its takeover
    std::unique_ptr<PrimaryNode> primary_;  // started as the primary, or promoted after a takeover
    std::string followed_;  // the primary this node last followed as a backup (its address)
    RoleHistory roles_;
    std::string start_why_;
    bool promotion_failed_ = false;
    bool stopping_ = false;        // SIGTERM: a handed-over node stops, it does not rejoin
    bool rejoin_refused_ = false;  // said once why this node stays silent
    std::optional<std::string> fatal_error_;
};

}  // namespace tcpfo
