#include "userd/primary/conn_replicator.h"

#include "userd/base/event_loop.h"

#include <arpa/inet.h>

#include <algorithm>

#include "userd/base/seq.h"
#include "userd/protocol/conn_key.h"

namespace tcpfo {

namespace {
// An offset this far from the stream's current position is not a real one (a
// segment from before the SYN, or garbage); TCP keeps far less than this in flight.
constexpr uint64_t kMaxOffsetJump = uint64_t(1) << 31;
}

ConnReplicator::ConnReplicator(uint64_t conn_id, const tcpfo_event& ev, std::vector<bool> required)
    : key_(ev.key), required_(std::move(required)), peer_stable_(required_.size(), 0),
      opened_s_(uint32_t(monotonic_ms() / 1000)), digested_end_seq_(ev.server_isn + 1) {
    open_.conn_id = conn_id;
    open_.client_addr = ev.key.client_addr;
    open_.client_port = ntohs(ev.key.client_port);
    open_.vip_addr = ev.key.vip_addr;
    open_.vip_port = ntohs(ev.key.vip_port);
    open_.client_isn = ev.client_isn;
    open_.server_isn = ev.server_isn;
    open_.client_options = {ev.client_opts.mss, ev.client_opts.wscale, ev.client_opts.present};
    open_.server_options = {ev.server_opts.mss, ev.server_opts.wscale, ev.server_opts.present};
}

ConnReplicator::ConnReplicator(const ConnOpenRecord& open, uint64_t client_end, uint64_t client_acked,
                               uint32_t snd_nxt, size_t peers)
    : open_(open), key_(conn_key_of(open)), required_(peers, false), peer_stable_(peers, 0), stable_(client_end),
      forwarded_contiguous_(client_end), client_acked_(client_acked), have_client_ack_(client_acked > 0),
      opened_s_(uint32_t(monotonic_ms() / 1000)), digested_end_seq_(snd_nxt) {}

void ConnReplicator::add_required(PeerId peer) {
    if (peer.index() >= required_.size()) return;
    required_[peer.index()] = true;
    peer_stable_[peer.index()] = 0;
}

uint32_t ConnReplicator::stable_seq() const { return offset_to_seq(stable_, open_.client_isn + 1); }

void ConnReplicator::note_client_ack(const tcpfo_event& ev, const Emit& emit) {
    if (ev.ack == 0 && !have_client_ack_) return;  // no ACK flag on the segment
    const uint64_t acked = seq_to_offset(ev.ack, open_.server_isn + 1, client_acked_);
    if (acked > client_acked_ + kMaxOffsetJump) return;  // below the stream start
    const bool advanced = acked > client_acked_;
    if (!advanced && have_client_ack_ && ev.window == last_window_) return;
    client_acked_ = std::max(client_acked_, acked);
    have_client_ack_ = true;
    last_window_ = ev.window;
    emit(ClientAckRecord{open_.conn_id, client_acked_, ev.window, ev.tsval, ev.tsecr});
}

void ConnReplicator::on_event(const tcpfo_event& ev, std::span<const uint8_t> payload, const Emit& emit) {
    switch (ev.type) {
        case TCPFO_EV_DATA: {
            const uint64_t offset = seq_to_offset(ev.seq, open_.client_isn + 1, forwarded_contiguous_);
            const uint64_t end = offset + payload.size();
            if (offset > forwarded_contiguous_ + kMaxOffsetJump) {
                // Starts before offset 0 (data riding on the SYN is not supported).
            } else if (end > forwarded_contiguous_) {
                // Forward what is new. Above a gap (a dropped event) forward it too:
                // the backup holds it until the client's retransmission fills the gap.
                const uint64_t start = offset <= forwarded_contiguous_ ? forwarded_contiguous_ : offset;
                emit(DataRecord{open_.conn_id, start, payload.subspan(start - offset)});
                if (offset <= forwarded_contiguous_) forwarded_contiguous_ = end;
            }
            note_client_ack(ev, emit);
            break;
        }
        case TCPFO_EV_ACK:
            note_client_ack(ev, emit);
            break;
        case TCPFO_EV_CLIENT_FIN:
            if (!client_fin_) {
                client_fin_ = seq_to_offset(ev.seq, open_.client_isn + 1, forwarded_contiguous_);
                emit(ClientFinRecord{open_.conn_id, *client_fin_});
            }
            note_client_ack(ev, emit);
            break;
        case TCPFO_EV_SERVER_FIN:
            if (!server_fin_) {
                server_fin_ = seq_to_offset(ev.seq, open_.server_isn + 1, client_acked_);
                emit(ServerFinRecord{open_.conn_id, *server_fin_});
            }
            break;
        case TCPFO_EV_OUT_DIGEST:
            note_output(ev, emit);
            break;
        case TCPFO_EV_RST:
            if (!reset_) {
                reset_ = true;
                emit(CloseRecord{open_.conn_id, (ev.flags & TCPFO_EVF_FROM_SERVER) ? CloseReason::reset_by_server
                                                                                    : CloseReason::reset_by_client});
            }
            break;
        default:
            break;
    }
}

void ConnReplicator::note_output(const tcpfo_event& ev, const Emit& emit) {
    if (ev.len == 0 || ev.len > kMaxDigestSpan) return;
    const uint32_t end = ev.seq + ev.len;
    if (seq_before(ev.seq, digested_end_seq_)) {
        // A retransmission: its bytes were digested already. One that also carries new
        // bytes cannot be cut (the digest covers the whole segment): those bytes go
        // unchecked rather than overlap the span before.
        if (seq_after(end, digested_end_seq_)) digested_end_seq_ = end;
        return;
    }
    const uint64_t offset = seq_to_offset(ev.seq, open_.server_isn + 1, client_acked_);
    if (offset > client_acked_ + kMaxOffsetJump) return;
    digested_end_seq_ = end;
    emit(OutputDigestRecord{open_.conn_id, offset, ev.len, ev.digest});
}

bool ConnReplicator::recompute_stable() {
    std::optional<uint64_t> lowest;
    for (size_t i = 0; i < required_.size(); ++i)
        if (required_[i]) lowest = std::min(lowest.value_or(peer_stable_[i]), peer_stable_[i]);
    if (!lowest || *lowest <= stable_) return false;
    stable_ = *lowest;
    // Every byte below the stable point is held by the backups, so it was forwarded:
    // after a gap was filled, the bytes above it were forwarded already and no event
    // will move the contiguous mark over them again (found by a status review).
    forwarded_contiguous_ = std::max(forwarded_contiguous_, stable_);
    return true;
}

bool ConnReplicator::on_stable(PeerId peer, uint64_t offset) {
    if (!requires_peer(peer)) return false;
    peer_stable_[peer.index()] = std::max(peer_stable_[peer.index()], offset);
    return recompute_stable();
}

bool ConnReplicator::drop_peer(PeerId peer) {
    if (!requires_peer(peer)) return false;
    required_[peer.index()] = false;
    return recompute_stable();
}

bool ConnReplicator::has_required_peers() const {
    return std::find(required_.begin(), required_.end(), true) != required_.end();
}

bool ConnReplicator::finished() const {
    return client_fin_ && server_fin_ && client_acked_ >= *server_fin_ + 1 && stable_ >= *client_fin_ + 1;
}

}  // namespace tcpfo
