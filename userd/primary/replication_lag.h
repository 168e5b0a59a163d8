// How far behind one backup is, in time: how long the oldest client byte forwarded to
// it, and not yet acknowledged (held) by it, has been waiting. The primary keeps one
// per peer and feeds it two cumulative counts, bytes forwarded to the peer and bytes
// the peer acknowledged; the bytes are taken to be acknowledged in the order they were
// forwarded (one ordered stream, logged in order by the backup), so the oldest byte
// waiting is byte number acknowledged + 1 of the forwarded sequence.
//
// Bounded: a fixed ring of marks (cumulative count forwarded, when its first byte was
// forwarded), at most one per mark interval (1 ms). When the ring is full, neighbouring
// marks are merged in pairs, each keeping the older time, and the interval doubles, so
// the marks keep spanning equal times: the answer may then be older than the truth by
// up to one interval (1/64 of the time the ring covers), never younger. The interval
// returns to 1 ms once the peer holds everything (docs/operations.md, "Bounds"). No
// allocation, O(1) amortised per call; time is passed in (monotonic microseconds),
// never read here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tcpfo {

class ReplicationLag {
public:
    static constexpr size_t kMarks = 128;
    // Bytes forwarded within an interval of a mark's first byte join that mark; this
    // is the interval while the ring has never filled.
    static constexpr uint64_t kMarkIntervalUs = 1000;

    // `bytes` more client bytes were forwarded to the peer at `now_us`.
    void note_forwarded(uint64_t bytes, uint64_t now_us);
    // The peer acknowledged `bytes` more (or they no longer wait for it: their
    // connection was forgotten or no longer needs this peer).
    void note_acknowledged(uint64_t bytes);
    // A new stream (or none): nothing is waited for any more.
    void reset();

    // How long the oldest byte not yet acknowledged has waited, in microseconds; 0
    // when the peer holds everything forwarded.
    uint64_t lag_us(uint64_t now_us) const;
    // Forwarded, not yet acknowledged: the lag in bytes.
    uint64_t outstanding() const { return forwarded_ - acknowledged_; }
    uint64_t forwarded() const { return forwarded_; }
    uint64_t acknowledged() const { return acknowledged_; }
    // Marks held now (for tests).
    size_t marks() const { return count_; }
    uint64_t mark_interval_us() const { return mark_interval_us_; }

private:
    struct Mark {
        uint64_t forwarded_end = 0;  // cumulative count forwarded once this mark's bytes were
        uint64_t first_us = 0;       // when the first of them was forwarded
    };
    Mark& at(size_t i) { return ring_[(head_ + i) % kMarks]; }
    const Mark& at(size_t i) const { return ring_[(head_ + i) % kMarks]; }
    // Full: merge marks 2k and 2k+1, keeping 2k's (older) time, and double the
    // interval. Halves the ring.
    void merge_pairs();

    std::array<Mark, kMarks> ring_{};
    size_t head_ = 0;   // the oldest mark
    size_t count_ = 0;
    uint64_t forwarded_ = 0;
    uint64_t acknowledged_ = 0;
    uint64_t mark_interval_us_ = kMarkIntervalUs;
};

}  // namespace tcpfo
