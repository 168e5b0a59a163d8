// The primary's view of one protected connection: turns the hooks' events into
// replication records, and the backups' stable offsets into the stable point the
// ACK clamp enforces. No I/O: the primary node sends what this emits.
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "userd/protocol/peer_id.h"
#include "userd/protocol/record_codec.h"
#include "bpf/tcpfo_events.h"

namespace tcpfo {

class ConnReplicator {
public:
    using Emit = std::function<void(const Record&)>;

    // `required`: which peers must hold this connection's bytes (the live ones when
    // it opened); the stable point is the minimum over them.
    ConnReplicator(uint64_t conn_id, const tcpfo_event& open_event, std::vector<bool> required);
    // A connection this node rebuilt at a takeover and resumes (resume_tails.h): opened
    // by the dead primary as `open`; the rebuilt socket acknowledged the client's bytes
    // below `client_end`, the client acknowledged the server's below `client_acked`, and
    // the socket's next byte is `snd_nxt` (output before it was digested by the dead
    // primary). No peer is required yet: add_required() as followers take it.
    ConnReplicator(const ConnOpenRecord& open, uint64_t client_end, uint64_t client_acked, uint32_t snd_nxt,
                   size_t peers);
    // A follower took a resumed connection: it must hold its bytes from now on.
    void add_required(PeerId peer);

    uint64_t id() const { return open_.conn_id; }
    const tcpfo_conn_key& key() const { return key_; }
    const ConnOpenRecord& open_record() const { return open_; }

    // A DATA, ACK, CLIENT_FIN, SERVER_FIN, OUT_DIGEST or RST event of this connection.
    void on_event(const tcpfo_event& event, std::span<const uint8_t> payload, const Emit& emit);

    // Peer `peer` holds every client byte below `offset`. True if the connection's
    // stable point advanced.
    bool on_stable(PeerId peer, uint64_t offset);
    // The peer is gone: it no longer holds the stable point back. True if it advanced.
    bool drop_peer(PeerId peer);
    bool has_required_peers() const;
    // Whether peer `peer` holds this connection (it was live when the connection opened
    // and has not been lost since): only such peers get its records.
    bool requires_peer(PeerId peer) const { return peer.index() < required_.size() && required_[peer.index()]; }

    // The stable point as an absolute client sequence number, for the clamp.
    uint32_t stable_seq() const;
    uint64_t stable_offset() const { return stable_; }
    // What peer `peer` holds of this connection (0 if it does not hold it).
    uint64_t peer_stable(PeerId peer) const {
        return peer.index() < peer_stable_.size() ? peer_stable_[peer.index()] : 0;
    }
    uint64_t forwarded_offset() const { return forwarded_contiguous_; }
    uint64_t client_acked() const { return client_acked_; }

    // Both FINs are exchanged and acknowledged, and the backups hold the client's:
    // nothing of this connection is left to protect.
    bool finished() const;
    bool reset() const { return reset_; }
    // A FIN was seen from either side (for status reports).
    bool closing() const { return client_fin_ || server_fin_; }
    // The client has spoken since the SYN-ACK (an ACK, data or FIN): the handshake
    // completed. A connection that never does is a half-open one to forget.
    bool heard_from_client() const { return have_client_ack_ || forwarded_contiguous_ > 0 || client_fin_; }
    // When it opened (monotonic seconds), for forgetting a handshake never completed.
    uint32_t opened_s() const { return opened_s_; }

private:
    void note_client_ack(const tcpfo_event& event, const Emit& emit);
    void note_output(const tcpfo_event& event, const Emit& emit);
    bool recompute_stable();

    ConnOpenRecord open_;
    tcpfo_conn_key key_;
    std::vector<bool> required_;
    std::vector<uint64_t> peer_stable_;
    uint64_t stable_ = 0;
    uint64_t forwarded_contiguous_ = 0;  // every client byte below this was forwarded
    uint64_t client_acked_ = 0;          // server offset the client acknowledged
    bool have_client_ack_ = false;
    uint16_t last_window_ = 0;
    uint32_t opened_s_ = 0;  // in the padding after the two fields above: no size growth
    std::optional<uint64_t> client_fin_;
    std::optional<uint64_t> server_fin_;
    bool reset_ = false;
    // Server sequence number after the last output span whose digest was sent; spans
    // are sent in order and never overlap (OutputCheck needs both). In the padding
    // after reset_: no size growth.
    uint32_t digested_end_seq_ = 0;
};

}  // namespace tcpfo
