// How long to wait before the next connect attempt to a peer: short at first (a
// backup that is just starting is reached within milliseconds), doubling after
// each failure up to a cap (a backup that stays down costs a few SYNs a second,
// not a busy loop), and short again after a success.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tcpfo {

class RetryBackoff {
public:
    // The defaults bound the connect latency: a backup that starts listening is
    // reached at most kMaxMs (plus a round trip) later, however long it was down.
    static constexpr uint64_t kInitialMs = 5;
    static constexpr uint64_t kMaxMs = 40;

    explicit RetryBackoff(uint64_t initial_ms = kInitialMs, uint64_t max_ms = kMaxMs)
        : initial_ms_(std::max<uint64_t>(1, initial_ms)),
          max_ms_(std::max(initial_ms_, max_ms)),
          next_ms_(initial_ms_) {}

    // The delay before the next attempt; the one after it doubles, up to the cap.
    uint64_t next_delay_ms() {
        const uint64_t delay = next_ms_;
        next_ms_ = std::min(max_ms_, next_ms_ * 2);
        ++failures_;
        return delay;
    }
    // The delay next_delay_ms() would return now, without consuming it.
    uint64_t peek_ms() const { return next_ms_; }
    // Failures since the last reset().
    uint64_t failures() const { return failures_; }
    uint64_t max_ms() const { return max_ms_; }
    // A connection succeeded: the next failure starts short again.
    void reset() {
        next_ms_ = initial_ms_;
        failures_ = 0;
    }

private:
    uint64_t initial_ms_;
    uint64_t max_ms_;
    uint64_t next_ms_;
    uint64_t failures_ = 0;
};

}  // namespace tcpfo
