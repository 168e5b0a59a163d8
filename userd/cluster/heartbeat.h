// Liveness over UDP: every node sends a heartbeat to each peer every interval and
// notes when it last heard each peer. Separate from the replication stream so a
// dead peer is noticed even while that stream sits in a full send buffer.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "userd/base/event_loop.h"
#include "userd/protocol/peer_id.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

class Heartbeat {
public:
    // Binds UDP on `listen` and watches it in `loop`.
    static Result<std::unique_ptr<Heartbeat>> open(EventLoop& loop, const sockaddr_in& listen,
                                                   std::vector<sockaddr_in> peers, NodeRole role);
    ~Heartbeat();

    // Sends one heartbeat to every peer (call every interval).
    void send_all(uint64_t epoch);
    void set_role(NodeRole role) { role_ = role; }
    // Milliseconds since a valid heartbeat from `peer`, or since the last
    // heard_from(peer) if that is more recent.
    uint64_t silence_ms(PeerId peer) const;
    // The peer just proved it is alive another way (its stream delivered a record,
    // or the stream just started): its silence counts from now.
    void heard_from(PeerId peer);
    // Reads the heartbeats already queued: call before judging silence, so a busy
    // loop that reaches its timer before the socket does not see a live peer as dead.
    void receive_pending() { on_readable(); }
    // The highest epoch any peer announced.
    uint64_t highest_peer_epoch() const { return highest_epoch_; }
    size_t refused() const { return refused_; }

private:
    Heartbeat(EventLoop& loop, UniqueFd fd, std::vector<sockaddr_in> peers, NodeRole role);
    void on_readable();

    EventLoop& loop_;
    UniqueFd fd_;
    std::vector<sockaddr_in> peers_;
    std::vector<uint64_t> last_heard_ms_;
    NodeRole role_;
    uint64_t counter_ = 0;
    uint64_t highest_epoch_ = 0;
    size_t refused_ = 0;
    std::vector<uint8_t> out_;
};

}  // namespace tcpfo
