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
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "userd/auth/drop_log.h"
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
        std::vector<sockaddr_in> peers;
        NodeRole role = NodeRole::primary;
        uint32_t interval_ms = 10;
        int realtime_priority = 10;   // SCHED_FIFO priority of the thread; 0: normal scheduler
        uint32_t main_stall_ms = 1000;  // no heartbeats after the loop stood still this long
        // Null: heartbeats are not authenticated (no key configured).
        std::shared_ptr<const KeyRing> keys;
        // What the command line says, for a node of `role`.
        static Config from(const Options& options, NodeRole role);
    };
    // Binds UDP on `listen`, starts the thread, and watches, in `loop`, the verdicts of
    // judge(): `on_silent(peer, silence_ms)` runs in the loop's thread.
    static Result<std::unique_ptr<Heartbeat>> open(EventLoop& loop, Config config,
                                                   std::function<void(PeerId, uint64_t)> on_silent);
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
    // The highest epoch any peer announced.
    uint64_t highest_peer_epoch() const { return highest_epoch_.load(std::memory_order_relaxed); }
    // Datagrams dropped: not from a peer, not a heartbeat, or (with a key) forged,
    // replayed or under another key; by kind in drops().
    size_t refused() const { return size_t(drops_.total()); }
    const DropLog& drops() const { return drops_; }

private:
    static constexpr uint32_t kNoPeer = UINT32_MAX;
    Heartbeat(Config config, UniqueFd fd, UniqueFd wake, UniqueFd verdict, EventLoop& loop,
              std::function<void(PeerId, uint64_t)> on_silent);
    void run();  // the thread
    void send_all();
    void receive_all();
    void judge_now(uint64_t now, bool this_wakeup_was_late);
    void on_verdict();  // in the loop's thread

    Config config_;
    UniqueFd fd_;       // the UDP socket
    UniqueFd wake_;     // eventfd: wakes the thread to stop
    UniqueFd verdict_;  // eventfd: the thread's verdict, read in the loop
    EventLoop& loop_;
    std::function<void(PeerId, uint64_t)> on_silent_;
    pid_t loop_tid_;
    std::unique_ptr<std::atomic<uint64_t>[]> last_heard_ms_;
    std::atomic<uint64_t> epoch_{0};
    std::atomic<NodeRole> role_;
    std::atomic<uint64_t> main_turns_{0};  // the loop's turns; the thread dates their change
    std::atomic<uint64_t> highest_epoch_{0};
    DropLog drops_{"heartbeat"};  // noted by the thread only
    std::unique_ptr<uint64_t[]> highest_counter_;  // thread only: per peer, the highest authenticated counter
    std::atomic<uint32_t> judged_peer_{kNoPeer};
    std::atomic<uint64_t> dead_ms_{0};
    std::atomic<uint64_t> verdict_silence_ms_{0};
    std::atomic<uint32_t> verdict_peer_{kNoPeer};
    std::atomic<bool> stopping_{false};
    uint64_t counter_ = 0;       // thread only
    uint64_t judge_after_ms_ = 0;  // thread only: a late wake-up put judging off until then
    uint64_t turns_seen_ = 0;      // thread only: main_turns_ as last seen ...
    uint64_t turns_moved_ms_ = 0;  // ... and when it last moved
    std::thread thread_;
};

}  // namespace tcpfo
