// Liveness over UDP: every node sends a heartbeat to each peer every interval and
// notes when it last heard each peer. Separate from the replication stream so a
// dead peer is noticed even while that stream sits in a full send buffer.
//
// It runs on a thread of its own, at a real-time priority (like keepalived's VRRP):
// failure detection is tens of milliseconds, and a node whose heartbeats wait for the
// CPU behind busy services is seen as dead. Only this thread is real-time. The
// replication path runs under the normal scheduler (main.cpp, --nice): at SCHED_FIFO
// it preempted the services it protects at every event (on two cores,
// request/response latency through the VIP was 3.9 times plain TCP's; 1.0 at nice 0).
//
// The thread sends only while the daemon's own loop is alive (it stamps
// main_loop_alive() every turn): a daemon wedged for longer than `main_stall_ms` is
// dead to its peers too, and gets taken over.
//
// With a key (key_ring.h), each datagram is an authenticated frame (frame_auth.h)
// whose counter must be above the highest one taken from that peer: a forged,
// replayed or foreign datagram is dropped (DropLog: one line per peer and kind per
// 10 s) and never counts as the peer's sign of life. The counter starts at the wall
// clock's microseconds, so a restarted sender's counters are above its old ones.
//
// A node with a second address (a second segment, --transport sctp) sends every
// datagram on both paths, from each of its addresses to the peer's matching one, and
// takes a peer's datagrams on either: a peer is alive if heard on any of its
// addresses, so losing one path is not a death. The copy that comes second is
// recognised by its counter and ignored; the lease and vote logic sees one datagram.
// With a key, replays are judged per path (each copy is sealed for its source).
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "userd/auth/drop_log.h"
#include "userd/cluster/election_rank.h"
#include "userd/cluster/lease.h"
#include "userd/cluster/voter.h"
#include "userd/auth/key_ring.h"
#include "userd/base/event_loop.h"
#include "userd/config/options.h"
#include "userd/protocol/peer_id.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

class Heartbeat {
public:
    struct Config {
        sockaddr_in listen{};
        std::optional<sockaddr_in> listen_second;               // the second path's local address
        std::vector<sockaddr_in> peers;
        std::vector<std::optional<sockaddr_in>> peers_second;   // one per peer (shorter: none)
        NodeRole role = NodeRole::primary;
        uint32_t interval_ms = 10;
        int realtime_priority = 10;   // SCHED_FIFO priority of the thread; 0: normal scheduler
        uint32_t main_stall_ms = 1000;  // no heartbeats after the loop stood still this long
        // Null: heartbeats are not authenticated (no key configured).
        std::shared_ptr<const KeyRing> keys;
        // Leases (docs/architecture.md, "Leases and fencing"). Not enforced (--two-node,
        // the shorthand): a primary speaks whatever its peers say, and a backup takes
        // over without votes; the votes are still answered (they cost nothing).
        bool lease_enforced = false;
        uint32_t lease_ms = 30;
        size_t quorum = 1;  // nodes, this one included, whose grant makes a lease or an election
        // This node's id and priority, sent in every heartbeat (0 and 0 with the
        // two-node shorthand, which has neither).
        int node_id = 0;
        int priority = 0;
        // What the command line says, for a node of `role`.
        static Config from(const Options& options, NodeRole role);
    };
    // Binds UDP on `listen`, starts the thread, and watches, in `loop`, the verdicts of
    // judge(): `on_silent(peer, silence_ms)` runs in the loop's thread.
    // What the thread found about the cluster, told in the loop's thread (on_cluster).
    enum class ClusterEvent {
        lease_acquired,  // the primary holds a lease (first, or again after it lapsed)
        lease_lapsed,    // the lease ran out: the hooks drop the egress; remove the VIP until it is regained
        higher_epoch,    // a primary or a voter knows a higher epoch: fall silent
        elected,         // the campaign won: take over at campaign_epoch()
    };
    struct Callbacks {
        // The judged peer was silent for longer than dead_ms (judge()).
        std::function<void(PeerId, uint64_t silence_ms)> on_silent;
        std::function<void(ClusterEvent, uint64_t epoch)> on_cluster;
        // In the heartbeat thread, at once: the lease now ends at `until_ms` (monotonic);
        // the hooks drop this node's protected egress from then on, also if this daemon
        // stops running (userd/hooks/hooks.h, set_lease_deadline).
        std::function<void(uint64_t until_ms)> on_lease_deadline;
    };
    static Result<std::unique_ptr<Heartbeat>> open(EventLoop& loop, Config config, Callbacks callbacks);
    // Who hears the cluster's events from now on (the loop's thread calls it, so call
    // this from that thread): a backup that took over hands them to the primary it
    // became (userd/node/node.cpp), which then fences or falls silent.
    void set_on_cluster(std::function<void(ClusterEvent, uint64_t epoch)> on_cluster) {
        callbacks_.on_cluster = std::move(on_cluster);
    }
    ~Heartbeat();  // stops and joins the thread

    void set_epoch(uint64_t epoch) { epoch_.store(epoch, std::memory_order_relaxed); }
    void set_role(NodeRole role) { role_.store(role, std::memory_order_relaxed); }
    // The daemon's loop made a turn (call every turn).
    void main_loop_alive() { main_turns_.fetch_add(1, std::memory_order_relaxed); }
    // From now on the thread judges `peer`: once it has been silent for more than
    // `dead_ms`, on_silent runs (once; judge again to re-arm). Before that the thread
    // raises the loop's thread to its real-time priority, so that what the verdict
    // starts (a takeover) does not wait behind the services either; the owner lowers
    // it again (scheduling.h). A judgement is put off one interval after the
    // thread's own wake-up came more than two intervals late: this node was not
    // running (starved, or its machine paused), so the silence was not witnessed.
    void judge(PeerId peer, uint64_t dead_ms);
    void stop_judging() { judged_peer_.store(kNoPeer, std::memory_order_relaxed); }
    // Milliseconds since a valid heartbeat from `peer`, or since the last
    // heard_from(peer) if that is more recent.
    uint64_t silence_ms(PeerId peer) const;
    // The peer just proved it is alive another way (its stream delivered a record,
    // or the stream just started): its silence counts from now.
    void heard_from(PeerId peer);
    // The same, dated: the peer was alive at `at_ms` (monotonic; later dates win).
    void heard_from(PeerId peer, uint64_t at_ms);
    // `peer` could follow a new primary now: heard within `dead_ms`, and its last
    // heartbeat was not a primary's. A primary that handed over (or fell silent, or is
    // fenced) still answers votes, so it is heard, but it never follows: a takeover
    // that counted it would adopt its connections and hold their clients' ACKs for a
    // follower that never comes (ResumeTails::kKeepMs).
    bool may_follow(PeerId peer, uint64_t dead_ms) const;
    // The highest epoch any peer announced.
    uint64_t highest_peer_epoch() const { return highest_epoch_.load(std::memory_order_relaxed); }

    // What an election compares (election_rank.h), kept current by a backup's loop:
    // how much of the serving primary's stream it holds, and whether it could take
    // over now (a stream was greeted, its replica's checks pass). While fit, this node
    // refuses its vote to a candidate it outranks: the better backup is left to win.
    void set_log_position(uint64_t epoch, uint64_t bytes) {
        log_epoch_.store(epoch, std::memory_order_relaxed);
        log_position_.store(bytes, std::memory_order_relaxed);
    }
    // Whether this backup holds every connection its primary protects (as the primary
    // last said, or false once it refused one): heartbeats carry it, elections rank by it.
    void set_holds_every_connection(bool all) { holds_all_.store(all, std::memory_order_relaxed); }
    void set_fit_to_lead(bool fit) { fit_to_lead_.store(fit, std::memory_order_relaxed); }

    // A backup whose primary is gone asks for votes: it heartbeats as a candidate for
    // the epoch above `known_epoch` (and above any its voter granted) until a quorum
    // has granted it (ClusterEvent::elected, then it is the primary at that epoch) or
    // stop_campaign(). Without enforced leases it is elected at once.
    // `at_once`: the candidacy goes out now, not at the thread's next tick (a planned
    // handover: nothing to wait for, see release_vote_of()).
    void campaign(uint64_t known_epoch, bool at_once = false);
    void stop_campaign() { campaign_from_.store(0, std::memory_order_relaxed); }
    bool campaigning() const { return campaign_from_.load(std::memory_order_relaxed) != 0; }
    uint64_t campaign_epoch() const { return campaign_epoch_.load(std::memory_order_relaxed); }
    // This node stops speaking as a primary (handed over, fenced by its owner): no more
    // heartbeats as primary, so no lease is renewed and the voters' promises run out.
    void fall_silent() { silent_.store(true, std::memory_order_relaxed); }
    bool silent() const { return silent_.load(std::memory_order_relaxed); }
    // A silent node rejoins as a backup (userd/node/node.cpp): it heartbeats as one
    // again, holding no log yet, and its voter keeps every promise it made (a restart
    // would wait them out instead). Call from the loop's thread, with set_on_silent for
    // the backup that judges its new primary.
    void rejoin_as_backup() {
        stop_campaign();
        stop_judging();
        set_log_position(0, 0);
        set_holds_every_connection(false);
        role_.store(NodeRole::backup, std::memory_order_relaxed);
        silent_.store(false, std::memory_order_relaxed);
    }
    // Who hears that the judged peer went silent (the loop's thread calls it).
    void set_on_silent(std::function<void(PeerId, uint64_t silence_ms)> on_silent) {
        callbacks_.on_silent = std::move(on_silent);
    }
    // A primary that hands over (userd/primary/primary_node.cpp, hand_over_to), after
    // freezing its egress and removing the VIP, before it sends HANDOVER: it falls
    // silent and its voter gives back its own vote at `epoch` (Voter::release), so that
    // it grants the node it hands over to as soon as that one asks.
    void hand_over(uint64_t epoch);
    // The primary at `address` (a peer's first address) said it hands over at `epoch`
    // (its HANDOVER record, sent once it had stopped speaking): this node's voter gives
    // back the vote it holds for it, if it does. With the old primary's own vote (above)
    // the node handed to then has a quorum of two at once (three data nodes, or two and
    // a witness) instead of waiting a lease for the promises made to the old primary to
    // run out; more nodes still wait for the others' promises.
    void release_vote_of(uint32_t address, uint64_t epoch);

    // For status and metrics: a snapshot, any thread.
    struct LeaseView {
        bool enforced = false;
        size_t quorum = 1;
        uint64_t lease_ms = 0;
        uint64_t until_ms = 0;  // primary: the lease's end (monotonic ms); 0 if never held
        uint64_t renewed_ms = 0;  // primary: when a quorum's grants last moved that end (monotonic ms); 0 if never
        bool silent = false;
        uint64_t campaign_epoch = 0;   // backup: the epoch it asks votes for; 0 if not campaigning
        uint64_t voter_epoch = 0;      // the highest epoch this node's voter granted
        uint32_t voter_granted_to = 0; // to whom (an address, network order); 0: nobody
        uint64_t promised_until_ms = 0;
        uint64_t grants = 0, refusals = 0;
        uint64_t outranked_refusals = 0;  // candidates refused because this node ranks above them
        uint32_t deferring_to = 0;        // campaigning: the better candidate it stands aside for (0: none)
        uint64_t deferrals = 0;           // heartbeats sent as a plain backup while deferring
    };
    LeaseView lease_view() const;
    // For status: each peer as its last heartbeat described it (failoverctl status,
    // "cluster"). A peer never heard has heard = false.
    struct PeerView {
        sockaddr_in address{};
        bool heard = false;
        NodeRole role = NodeRole::backup;
        uint64_t epoch = 0;
        int node_id = 0;
        int priority = 0;
        uint64_t log_position = 0;
        uint64_t log_epoch = 0;
        bool holds_every_connection = false;
        uint64_t silence_ms = 0;
        // Its last NODE_REPORT, and how long ago it came; none from a node that never
        // sent one (an older failoverd). Shared, not copied: the thread and the status
        // exchange a pointer under peer_views_mutex_, never allocate while holding it.
        std::shared_ptr<const NodeReportRecord> report;
        uint64_t report_heard_ms = 0;  // monotonic
        uint64_t report_age_ms = 0;
    };
    std::vector<PeerView> peer_views() const;
    // What this node tells its peers of itself (a NODE_REPORT, docs/protocol.md): the
    // thread sends it to every peer at its next tick, once. The loop's thread calls it,
    // once a second and on a change (report_cadence.h); the encoding happens here, so
    // the thread only seals and sends bytes.
    void publish_report(const NodeReportRecord& report);
    // Datagrams dropped: not from a peer, not a heartbeat, or (with a key) forged,
    // replayed or under another key; by kind in drops().
    size_t refused() const { return size_t(drops_.total()); }
    const DropLog& drops() const { return drops_; }

private:
    static constexpr uint32_t kNoPeer = UINT32_MAX;
    Heartbeat(Config config, UniqueFd fd, UniqueFd fd_second, UniqueFd wake, UniqueFd verdict, EventLoop& loop,
              Callbacks callbacks);
    void run();  // the thread
    void send_all();
    // To peer `index` on every path both ends have.
    void send_record(Record record, size_t index, uint64_t now);
    // Already encoded, under the counter taken last (next_counter()).
    void send_encoded(const std::vector<uint8_t>& encoded, size_t index, uint64_t now);
    void next_counter();
    // Thread: the report the loop published last, to every peer (if the loop is not
    // writing one at this moment: then at the next tick).
    void send_report(uint64_t now);
    void on_report(size_t index, const NodeReportRecord& report, uint64_t now);
    void send_on(int fd, uint32_t from_address, const std::vector<uint8_t>& encoded, const sockaddr_in& to,
                 uint64_t now);
    void receive_all();
    void receive_from(int fd, size_t path);  // path 0: the first addresses, 1: the second
    void on_heartbeat(size_t index, const HeartbeatRecord& hb, uint64_t now);
    void on_lease_reply(size_t index, const LeaseReplyRecord& reply, uint64_t now);
    // Thread: this node is a fit backup that ranks above the candidate `hb`, which is
    // then refused (election_rank.h).
    bool outranks_candidate(const HeartbeatRecord& hb);
    // This node's rank in an election, as its loop last published its log.
    ElectionRank own_rank() const;
    // Thread: while campaigning, a candidate heard within the detection time whose rank
    // is above this node's (its address; 0: none). This node then stands aside: were
    // it to go on asking, a voter that granted it first would renew that promise at
    // each of its heartbeats and never grant the better one, which a voter of its own
    // refuses in turn (with four nodes, neither reaches a quorum of three).
    uint32_t better_candidate(uint64_t now);
    // Thread: the lease moved; a primary holding it for the first time says so.
    void publish_lease();
    void post(ClusterEvent event, uint64_t epoch);
    // Thread: campaigns for `epoch` from `now` on (no votes counted yet).
    void start_campaign_at(uint64_t epoch, uint64_t now);
    // Thread: a campaign whose epoch nobody can win any more asks for the next one.
    void retry_stalled_campaign(uint64_t now);
    // Thread: a campaign's quorum check (after each reply and each tick).
    void count_votes(uint64_t now);
    void publish_voter();
    // Thread: applies a vote given back (hand_over, release_vote_of), if one is pending.
    void apply_release();
    void judge_now(uint64_t now, bool this_wakeup_was_late);
    void on_verdict();  // in the loop's thread

    Config config_;
    UniqueFd fd_;       // the UDP socket
    UniqueFd fd_second_;  // on the second address, if this node has one
    UniqueFd wake_;     // eventfd: wakes the thread to stop, or to act at once (campaign, hand_over)
    UniqueFd verdict_;  // eventfd: the thread's verdict, read in the loop
    EventLoop& loop_;
    Callbacks callbacks_;
    pid_t loop_tid_;
    std::unique_ptr<std::atomic<uint64_t>[]> last_heard_ms_;
    std::atomic<uint64_t> epoch_{0};
    std::atomic<NodeRole> role_;
    std::atomic<uint64_t> main_turns_{0};  // the loop's turns; the thread dates their change
    std::atomic<uint64_t> highest_epoch_{0};
    DropLog drops_{"heartbeat"};  // noted by the thread only
    std::unique_ptr<uint64_t[]> highest_counter_;  // thread only: per peer and path, the highest authenticated counter
    std::unique_ptr<uint64_t[]> newest_taken_;     // thread only: per peer with two paths, the newest datagram acted on
    std::atomic<uint32_t> judged_peer_{kNoPeer};
    std::atomic<uint64_t> dead_ms_{0};
    std::atomic<uint64_t> verdict_silence_ms_{0};
    std::atomic<uint32_t> verdict_peer_{kNoPeer};
    std::atomic<bool> stopping_{false};
    uint64_t counter_ = 0;       // thread only
    uint64_t judge_after_ms_ = 0;  // thread only: a late wake-up put judging off until then
    uint64_t turns_seen_ = 0;      // thread only: main_turns_ as last seen ...
    uint64_t turns_moved_ms_ = 0;  // ... and when it last moved
    bool wedged_ = false;          // thread only: the loop stood still longer than main_stall_ms
    // Leases and votes: the thread's own state, published through the atomics below.
    Voter voter_;
    LeaseTracker lease_;
    bool lease_announced_ = false;            // thread only: lease_acquired posted (and not lapsed since)
    bool self_granted_ = false;               // thread only: this node's own vote granted its last heartbeat
    std::vector<bool> votes_;                 // thread only: per peer, granted the campaign's epoch
    uint64_t campaign_running_ = 0;           // thread only: the epoch being asked for (0: none)
    std::atomic<uint64_t> campaign_from_{0};  // the loop's request: the known epoch + 1 (0: none)
    std::atomic<uint64_t> campaign_epoch_{0};
    std::atomic<bool> silent_{false};
    // A vote given back, for the thread to apply: the epoch, then the node (0: none).
    std::atomic<uint64_t> release_epoch_{0};
    std::atomic<uint32_t> release_node_{0};
    std::atomic<uint64_t> lease_until_ms_{0};
    std::atomic<uint64_t> voter_epoch_{0}, voter_promised_until_{0}, voter_grants_{0}, voter_refusals_{0};
    std::atomic<uint32_t> voter_granted_to_{0};
    std::atomic<uint32_t> pending_events_{0};  // ClusterEvent bits, read by the loop
    std::atomic<uint64_t> event_epoch_{0};
    std::atomic<uint64_t> log_position_{0};
    std::atomic<uint64_t> log_epoch_{0};
    std::atomic<bool> holds_all_{false};
    uint64_t campaign_started_ms_ = 0;  // thread only: when the running campaign (its epoch) began
    std::atomic<uint64_t> outranked_refusals_{0};
    std::atomic<bool> fit_to_lead_{false};
    std::atomic<uint32_t> deferring_to_{0};
    std::atomic<uint64_t> deferrals_{0};
    std::atomic<uint64_t> lease_renewed_ms_{0};
    std::mutex report_mutex_;                  // the loop writes report_encoded_, the thread takes it
    std::vector<uint8_t> report_encoded_;
    std::atomic<bool> report_fresh_{false};    // report_encoded_ holds one not sent yet
    std::vector<uint8_t> report_sending_;      // thread only: the one it sends (swapped in, not copied)
    mutable std::mutex peer_views_mutex_;  // the thread writes, status reads: seldom contended
    std::vector<PeerView> peer_views_;
    std::thread thread_;
};

}  // namespace tcpfo
