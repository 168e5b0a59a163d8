// Divergence detection for one connection: checks what the replica writes against
// the digests of what the primary's server sent (OUTPUT_DIGEST records). A service
// whose output depends on more than its own connection's bytes (state shared across
// connections, the clock, random numbers) writes other bytes in the replica; such a
// connection must never be continued from the replica (DESIGN.md invariant 7): the
// takeover resets it instead, and the splice of a rebuilt connection sends no byte a
// pending digest covers before that digest matched.
//
// Spans arrive in increasing, non-overlapping order (the primary drops digests of
// retransmissions); the replica's output arrives in order. A span whose bytes the
// replica already wrote is checked on arrival against the output still kept, the
// others as the bytes come, with one running digest: only the oldest pending span can
// be partly seen. Bounded: at most kMaxPending spans wait; beyond, a span is not
// checked (counted), which loses coverage, never bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "replay/output_digest.h"
#include "userd/protocol/record_codec.h"

namespace tcpfo {

// What every check of this process found, for the status: checks are freed when
// idle, their counts are kept here (failoverd runs one node per process).
struct OutputCheckTotals {
    uint64_t checked_bytes = 0;    // replica output that matched the primary's digests
    uint64_t unchecked_spans = 0;  // digests that could not be checked (OutputCheck)
    uint64_t diverged = 0;         // connections whose replica diverged
};
const OutputCheckTotals& output_check_totals();

class OutputCheck {
public:
    static constexpr size_t kMaxPending = 1024;
    static constexpr uint64_t kNone = UINT64_MAX;

    // `observed`: the replica's output offset reached when the check starts.
    explicit OutputCheck(uint64_t observed) : observed_(observed) {}
    ~OutputCheck();
    OutputCheck(const OutputCheck&) = delete;
    OutputCheck& operator=(const OutputCheck&) = delete;

    // A digest from the primary. `kept` holds the replica's output from offset
    // `kept_from` up to what was observed: what a span over bytes already written is
    // checked against.
    void expect(const OutputDigestRecord& span, std::span<const uint8_t> kept, uint64_t kept_from);
    // Replica output, in order, starting at offset `at` (== observed()).
    void observe(uint64_t at, std::span<const uint8_t> bytes);
    // The replica closed its output at offset `at`: a span beyond it was never written.
    void replica_ended(uint64_t at);
    // The primary's server closed its output (FIN) at offset `at`: a replica byte at or
    // beyond it is one the client must never get.
    void primary_ended(uint64_t at);

    // The server offset of the first span whose bytes differ, once one did.
    std::optional<uint64_t> diverged_at() const { return diverged_at_; }
    // The first byte a pending span covers (kNone: none pending). Output below it is
    // checked or covered by no digest.
    uint64_t first_unchecked() const { return head_ < pending_.size() ? pending_[head_].offset : kNone; }
    uint64_t observed() const { return observed_; }
    uint64_t checked_bytes() const { return checked_bytes_; }
    uint64_t unchecked_spans() const { return unchecked_spans_; }
    // Nothing pending and nothing to report or watch: the owner may free it.
    bool idle() const { return head_ == pending_.size() && !diverged_at_ && primary_end_ == kNone; }

private:
    struct Span {
        uint64_t offset;
        uint64_t digest;
        uint32_t length;
        uint64_t end() const { return offset + length; }
    };
    void diverge(uint64_t at);
    void settle(const Span& span, uint64_t digest);
    void pop_front();

    std::vector<Span> pending_;
    size_t head_ = 0;
    SpanDigest running_;  // over the front span's bytes seen so far
    uint64_t observed_;
    uint64_t primary_end_ = kNone;
    uint64_t checked_bytes_ = 0;
    uint64_t unchecked_spans_ = 0;
    std::optional<uint64_t> diverged_at_;
};

}  // namespace tcpfo
