// What the replica has written on one connection, in the server's stream offsets,
// trimmed to what the client has not acknowledged yet. The replica is deterministic,
// so its output is the same byte stream the primary sent; at takeover these bytes
// are the rebuilt socket's send queue.
//
// How far it reads ahead of the client's acknowledgement is bounded by the client's
// receive window (the most the primary can have in flight), never more than `limit`:
// bytes beyond it are no use at takeover sooner than the replica's socket can give
// them, and reading megabytes early cost the backup a second of copying and page
// faults per 100 busy connections at start-up (and missed heartbeats). Output the
// replica wrote beyond the bound waits in its socket, read as the client's
// acknowledgement moves, or by the splice after a takeover.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "replay/output_check.h"
#include "userd/base/byte_queue.h"

namespace tcpfo {

// What the backup last heard of the client's side of the connection: needed to
// rebuild the socket (its window, and the timestamp it echoed).
struct ClientView {
    bool known = false;
    uint16_t window = 0;  // raw field, scaled by the client's wscale
    uint32_t tsval = 0;
    uint32_t tsecr = 0;
    uint64_t heard_at_ms = 0;
};

class ReplicaOutput {
public:
    // Read-ahead before the client's window is known (the first CLIENT_ACK), and the
    // least it ever is: a window the backup last saw shut may have reopened since.
    static constexpr size_t kMinReadAhead = 64 * 1024;

    explicit ReplicaOutput(size_t limit)
        : limit_(uint32_t(std::min<size_t>(limit, UINT32_MAX))), read_ahead_(uint32_t(std::min<size_t>(limit_, kMinReadAhead))) {}

    // Bytes the replica wrote. Bytes the client already acknowledged (the replica
    // lags the primary) are dropped on arrival.
    void append(std::span<const uint8_t> bytes) {
        const uint64_t start = produced_;
        if (check_) check_->observe(start, bytes);
        produced_ += bytes.size();
        if (acked_ > start) bytes = bytes.subspan(std::min<uint64_t>(bytes.size(), acked_ - start));
        kept_.append(bytes);
    }
    // The client acknowledged every server byte below `acked`.
    void acknowledge(uint64_t acked) {
        if (acked <= acked_) return;
        acked_ = acked;
        const uint64_t first_kept = produced_ - kept_.size();
        if (acked_ > first_kept) kept_.pop_front(std::min<uint64_t>(kept_.size(), acked_ - first_kept));
    }
    // The client's receive window in bytes (scaled), as last replicated: the output
    // kept may reach this far beyond its acknowledgement, within [kMinReadAhead, limit].
    void set_client_window(uint64_t window_bytes) {
        read_ahead_ = uint32_t(std::clamp<uint64_t>(window_bytes, std::min<uint64_t>(limit_, kMinReadAhead), limit_));
    }
    void set_eof() {
        eof_ = true;
        if (check_) check_->replica_ended(produced_);
    }

    // A digest of what the primary's server sent (OutputCheck).
    void expect_digest(const OutputDigestRecord& span) {
        if (!check_) check_ = std::make_unique<OutputCheck>(produced_);
        check_->expect(span, kept_.front(), produced_ - kept_.size());
        if (eof_) check_->replica_ended(produced_);
    }
    // The primary's FIN (SERVER_FIN): the replica must not write past it.
    void set_primary_end(uint64_t fin_offset) {
        if (!check_) check_ = std::make_unique<OutputCheck>(produced_);
        check_->primary_ended(fin_offset);
    }
    // Where the replica's output first differed from the primary's, once it did.
    std::optional<uint64_t> diverged_at() const { return check_ ? check_->diverged_at() : std::nullopt; }
    const OutputCheck* check() const { return check_.get(); }
    // Whether the feed logged the divergence already (kept here, in padding).
    bool divergence_reported() const { return divergence_reported_; }
    void set_divergence_reported() { divergence_reported_ = true; }
    // Takeover: the splice goes on checking what the replica writes next.
    std::unique_ptr<OutputCheck> take_check() { return std::move(check_); }

    // How many more bytes may be read from the replica before it must wait.
    size_t room() const { return read_ahead_ - std::min<size_t>(read_ahead_, kept_.size()); }
    size_t read_ahead() const { return read_ahead_; }
    uint64_t produced() const { return produced_; }
    uint64_t acked() const { return acked_; }
    bool eof() const { return eof_; }
    // Unacknowledged output, starting at server offset max(acked, first kept byte).
    std::span<const uint8_t> unacked() const { return kept_.front(); }
    // Takeover: hands the unacknowledged output over without copying it (it becomes
    // the splice's first bytes toward the client). Nothing is kept afterwards;
    // produced() and acked() stay as they were.
    ByteQueue take_unacked() { return std::move(kept_); }
    void consume(size_t n) { kept_.pop_front(n); }
    // Frees the buffer if nothing is kept (an idle connection keeps no memory).
    size_t release_idle_memory() {
        size_t freed = 0;
        if (check_ && check_->idle()) {
            check_.reset();
            freed = sizeof(OutputCheck);
        }
        return freed + kept_.release_if_empty();
    }
    size_t buffer_capacity() const { return kept_.capacity(); }

private:
    // Per connection, so 32 bits each (a buffer limit is at most a few MiB): at ten
    // thousand connections every byte here counts (docs/performance.md, memory).
    uint32_t limit_;
    uint32_t read_ahead_;
    uint64_t produced_ = 0;
    uint64_t acked_ = 0;
    ByteQueue kept_;
    // Only while digests wait for the replica's bytes, or after a divergence: an idle
    // connection pays a pointer for it.
    std::unique_ptr<OutputCheck> check_;
    bool eof_ = false;
    bool divergence_reported_ = false;
};

}  // namespace tcpfo
