// A backup becomes the primary, one step at a time, driven by the event loop (its
// own 1 ms timer while it runs, and every batch of events). Every connection is held
// by the hooks from the moment it opened: its client segments are dropped, not reset,
// and recorded, until its socket is rebuilt.
//
//   claiming    the VIP added (rtnetlink) and announced (gratuitous ARP); no
//               per-connection work; a failed claim is logged and retried until it
//               works, whatever happens to single connections
//   learning    each client is sent an out-of-window probe and answers with its
//               snd_nxt and rcv_nxt (recorded by the hold); bounded wait; the replica
//               reads the log's tail meanwhile
//   rebuilding  every connection rebuilt with TCP_REPAIR exactly where its client is
//   serving     each rebuilt socket spliced with its replica connection; a client that
//               sent bytes the dead primary took with it is prompted to resend them
//               at once (resend_prompt.h) instead of at its retransmission timer
//
// A connection that cannot be continued exactly (its replica connection broke, the
// kernel refused the rebuild, the splice could not start) is reset toward the client,
// logged and counted: never left hanging, never spliced with the wrong bytes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "replay/connection_splice.h"
#include "replay/replica_feed.h"
#include "userd/base/event_loop.h"
#include "userd/config/options.h"
#include "userd/hooks/hooks.h"
#include "userd/hooks/nudge_sender.h"
#include "userd/protocol/conn_key.h"
#include "userd/takeover/client_probe.h"
#include "userd/takeover/gratuitous_arp.h"
#include "userd/takeover/resumable.h"
#include "userd/takeover/tcp_repair.h"
#include "userd/takeover/vip_address.h"

namespace tcpfo {

using FeedTable = std::map<uint64_t, std::unique_ptr<ReplicaFeed>>;

class Takeover {
public:
    struct Context {
        EventLoop& loop;
        const Options& options;
        Hooks& hooks;
        const ArpAnnouncer& announcer;
        NudgeSender& raw;  // resets toward clients whose connection cannot go on
        // Several backups (architecture.md, "Election among several backups"): another
        // data node is alive and will follow this one, so each connection is protected
        // again as it is rebuilt, before its client's next segment can reach it: the
        // hooks adopt it (events, ACK clamp at what the socket acknowledged) and the
        // primary this node becomes resumes it toward its followers.
        bool resume_for_followers = false;
    };
    enum class Step { claiming, learning, rebuilding, serving };

    // Timings in ms since the decision (0 until the step is reached).
    struct Report {
        size_t connections = 0;
        size_t rebuilt = 0;
        size_t reset = 0;           // reset toward the client (see resets_ for why)
        size_t reset_diverged = 0;  // of those, because the replica's output differed from the primary's
                                    // (at the takeover, or later by its splice)
        size_t claim_attempts = 0;
        size_t positions_learned = 0;  // clients that answered the probe in time
        size_t prompted = 0;           // clients prompted to resend what the primary took
        uint64_t claimed_ms = 0, probed_ms = 0, learned_ms = 0, drained_ms = 0, rebuilt_ms = 0, serving_ms = 0;
    };

    // Takes the feeds (their replica sockets move into the splices).
    static Result<std::unique_ptr<Takeover>> start(Context context, FeedTable feeds);
    ~Takeover();

    // Does what the current step allows, without blocking for long; safe to call at
    // any time, also after serving (it forgets finished splices).
    void advance();
    Step step() const { return step_; }
    bool serving() const { return step_ == Step::serving; }
    const Report& report() const { return report_; }
    size_t live_splices() const { return splices_.size(); }
    bool has_splice(uint64_t conn_id) const { return splices_.count(conn_id) > 0; }
    // A rebuilt connection whose replica has not written what the dead primary sent
    // (a pending digest, OutputCheck) this long after the takeover is taken as
    // diverged: a replica fed the same input writes it at once; one that waits for
    // input the client will not send (it got those bytes already) would leave the
    // client hanging.
    static constexpr uint64_t kCheckDeadlineMs = 10'000;

    // Connections reset toward their clients, and why.
    const std::map<uint64_t, std::string>& resets() const { return resets_; }

    // Once serving: every connection's feed as it stood when its socket was spliced or
    // reset (for the status), handed over once.
    std::vector<std::unique_ptr<ReplicaFeed>> take_retired_feeds();

    // What the primary this node becomes needs to resume a connection
    // (Context::resume_for_followers).
    using Resumable = tcpfo::Resumable;
    // The connections adopted for resuming whose splice serves, handed over once.
    std::vector<Resumable> take_resumable();

    // SIGTERM after takeover: give the VIP back.
    Result<void> release_vip();
    // Once serving, the node that became the primary owns the VIP from here on (it
    // removes it at a handover or at exit); release_vip() does nothing after this.
    std::optional<VipAddress> take_vip() { return std::exchange(vip_, std::nullopt); }

private:
    void expire_overdue_checks();
    struct Conn {
        std::unique_ptr<ReplicaFeed> feed;
        ConnKey key{};
        tcpfo_held_client before_probe{};      // the hold record when the probe left
        std::optional<ClientPosition> position;  // the client's answer
        bool awaiting_answer = false;            // probed, not answered yet
        RepairState state;                       // as rebuilt
        UniqueFd socket;                         // rebuilt
    };

    Takeover(Context context, FeedTable feeds);
    bool drain();
    bool try_claim();
    void send_probes();
    // The probe for one connection into `packet` (kMaxServerSegmentBytes); its length.
    size_t build_client_probe(const Conn& conn, uint64_t now_ms, uint8_t* packet) const;
    bool collect_answers();
    void rebuild_all();
    void serve_all();
    void prompt_resend_if_needed(Conn& conn, int socket_fd);
    void ask_for_quick_acks(const ConnKey& key, const RepairState& state, int socket_fd);
    void reset_conn(Conn& conn, const std::string& why);
    // Protects a rebuilt connection again in the hooks (resume_for_followers()).
    void adopt(const Conn& conn, uint64_t conn_id);
    uint64_t since_start() const;

    Context ctx_;
    std::map<uint64_t, Conn> conns_;
    std::map<uint64_t, std::unique_ptr<ConnectionSplice>> splices_;
    std::vector<uint64_t> finished_;
    uint64_t next_check_sweep_ms_ = 0;
    std::optional<VipAddress> vip_;
    UniqueFd step_timer_;
    Step step_ = Step::claiming;
    uint64_t started_ms_ = 0;
    uint64_t next_claim_ms_ = 0;
    uint64_t probes_sent_ms_ = 0;
    std::unordered_map<ConnKey, uint64_t, ConnKeyHash> by_key_;  // conn id by 4-tuple
    size_t awaiting_ = 0;  // probed connections whose client has not answered yet
    Hooks::HeldRecords held_;  // the hold records last read (one buffer for every read)
    std::map<uint64_t, std::string> resets_;  // connections reset toward their clients, and why
    Report report_;
    std::vector<std::unique_ptr<ReplicaFeed>> retired_feeds_;
    std::map<uint64_t, Resumable> resumable_;  // with the tails at the start; kept if adopted at the rebuild
};

const char* step_name(Takeover::Step step);

}  // namespace tcpfo
