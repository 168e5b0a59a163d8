#include "userd/primary/replication_lag.h"

#include <algorithm>

namespace tcpfo {

void ReplicationLag::note_forwarded(uint64_t bytes, uint64_t now_us) {
    if (bytes == 0) return;
    forwarded_ += bytes;
    // Within an interval of the newest mark's first byte: the mark grows. Its time
    // stays that of its first byte, so these bytes look older than they are, never
    // younger.
    if (count_ > 0 && now_us < at(count_ - 1).first_us + mark_interval_us_) {
        at(count_ - 1).forwarded_end = forwarded_;
        return;
    }
    if (count_ == kMarks) merge_pairs();
    at(count_) = Mark{forwarded_, now_us};
    ++count_;
}

void ReplicationLag::note_acknowledged(uint64_t bytes) {
    // Never past what was forwarded: the caller's accounting keeps the two in step,
    // and an error in it must not make the lag read 0 for ever after.
    acknowledged_ = std::min(forwarded_, acknowledged_ + bytes);
    while (count_ > 0 && at(0).forwarded_end <= acknowledged_) {
        head_ = (head_ + 1) % kMarks;
        --count_;
    }
    // Caught up: whatever made the ring coarse is over.
    if (count_ == 0) mark_interval_us_ = kMarkIntervalUs;
}

void ReplicationLag::reset() { *this = ReplicationLag{}; }

uint64_t ReplicationLag::lag_us(uint64_t now_us) const {
    // The oldest mark left is the first one not wholly acknowledged: it holds the
    // oldest byte still waiting.
    if (count_ == 0) return 0;
    const uint64_t since = at(0).first_us;
    return now_us > since ? now_us - since : 0;
}

void ReplicationLag::merge_pairs() {
    // Once per kMarks / 2 new marks, so O(1) amortised. With the interval doubled,
    // the marks made from here on span as long as the merged ones: resolution is lost
    // evenly, not piled up at the oldest end, where the answer is read.
    std::array<Mark, kMarks> merged{};
    size_t n = 0;
    for (size_t i = 0; i < count_; i += 2) {
        Mark m = at(i);
        if (i + 1 < count_) m.forwarded_end = at(i + 1).forwarded_end;
        merged[n++] = m;
    }
    ring_ = merged;
    head_ = 0;
    count_ = n;
    mark_interval_us_ *= 2;
}

}  // namespace tcpfo
