// A backup's log of one connection's client bytes, in stream offsets. Segments may
// arrive twice (the client retransmits and the hook sees it again) or out of order
// (a ring-buffer drop healed by a retransmission); the log keeps each byte once and
// in order. Bytes are kept until the replica has been fed them; `end()` is how far
// the log is contiguous, the stable point the backup acknowledges.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "userd/base/byte_queue.h"

namespace tcpfo {

class InputLog {
public:
    // `pending_limit`: bytes logged but not yet fed to the replica; `reorder_limit`:
    // bytes held above a gap. Data beyond either is refused (not acknowledged), so
    // the client keeps it and retransmits: backpressure, not loss.
    InputLog(size_t pending_limit, size_t reorder_limit)
        : pending_limit_(uint32_t(std::min<size_t>(pending_limit, UINT32_MAX))),
          reorder_limit_(uint32_t(std::min<size_t>(reorder_limit, UINT32_MAX))) {}

    enum class Insert { appended, duplicate, held_out_of_order, refused_full };
    Insert insert(uint64_t offset, std::span<const uint8_t> bytes);
    // The client's FIN sits at `offset` (one past its last byte). Returns false if
    // that contradicts bytes already logged beyond it.
    bool set_fin(uint64_t offset);

    uint64_t end() const { return end_; }
    uint64_t fed() const { return end_ - pending_.size(); }
    bool fin_logged() const { return fin_ && *fin_ == end_; }
    // What the backup may acknowledge: every byte below end(), plus the FIN.
    uint64_t stable() const { return end_ + (fin_logged() ? 1 : 0); }

    std::span<const uint8_t> pending() const { return pending_.front(); }
    void consume(size_t n) { pending_.pop_front(n); }
    // Every logged byte not fed yet, moved out (a takeover hands them to the splice,
    // which writes them to the replica before anything the client sends next); the log
    // then counts them as fed.
    ByteQueue take_pending() { return std::move(pending_); }
    size_t held_bytes() const { return held_bytes_; }
    // Frees the buffer of pending bytes if it is empty (an idle connection keeps none).
    size_t release_idle_memory() {
        if (held_ && held_->empty()) held_.reset();
        return pending_.release_if_empty();
    }
    size_t buffer_capacity() const { return pending_.capacity(); }

private:
    void append_contiguous(uint64_t offset, std::span<const uint8_t> bytes);
    void merge_held();

    uint32_t pending_limit_;  // 32 bits: one of these per connection
    uint32_t reorder_limit_;
    uint64_t end_ = 0;
    ByteQueue pending_;
    // offset -> bytes above a gap; allocated at the first gap (rare: the replication
    // stream is ordered), so a connection without one pays 8 bytes, not 48.
    std::unique_ptr<std::map<uint64_t, std::vector<uint8_t>>> held_;
    size_t held_bytes_ = 0;
    std::optional<uint64_t> fin_;
};

}  // namespace tcpfo
