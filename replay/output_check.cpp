#include "replay/output_check.h"

#include <algorithm>

namespace tcpfo {

namespace {
OutputCheckTotals totals;
}

const OutputCheckTotals& output_check_totals() { return totals; }

OutputCheck::~OutputCheck() {
    totals.checked_bytes += checked_bytes_;
    totals.unchecked_spans += unchecked_spans_;
}

void OutputCheck::diverge(uint64_t at) {
    if (diverged_at_) return;  // the first difference is the one that counts
    diverged_at_ = at;
    ++totals.diverged;
}

void OutputCheck::settle(const Span& span, uint64_t digest) {
    if (digest == span.digest) checked_bytes_ += span.length;
    else diverge(span.offset);
}

void OutputCheck::pop_front() {
    ++head_;
    running_ = SpanDigest{};
    // Compact once the consumed prefix dominates (amortised O(1) per span).
    if (head_ == pending_.size()) {
        pending_.clear();
        head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= pending_.size()) {
        pending_.erase(pending_.begin(), pending_.begin() + std::ptrdiff_t(head_));
        head_ = 0;
    }
}

void OutputCheck::expect(const OutputDigestRecord& record, std::span<const uint8_t> kept, uint64_t kept_from) {
    const Span span{record.offset, record.digest, record.length};
    // Out of order or overlapping an earlier span (the primary never sends such):
    // not checkable with one running digest, so not checked.
    const uint64_t last_end = head_ < pending_.size() ? pending_.back().end() : 0;
    if (span.offset < last_end || pending_.size() - head_ >= kMaxPending) {
        ++unchecked_spans_;
        return;
    }
    if (span.offset >= observed_) {
        pending_.push_back(span);
        return;
    }
    // The replica wrote (some of) these bytes before the digest came: they must still
    // be kept (the client cannot have acknowledged bytes whose digest had not left the
    // primary yet). Nothing older is pending then: a pending span ends at or before
    // this one starts, so it was seen whole and settled.
    if (span.offset < kept_from || kept_from + kept.size() < observed_) {
        ++unchecked_spans_;
        return;
    }
    const uint64_t seen_end = std::min(span.end(), observed_);
    SpanDigest d;
    d.update(kept.subspan(size_t(span.offset - kept_from), size_t(seen_end - span.offset)));
    if (seen_end == span.end()) return settle(span, d.value());
    pending_.push_back(span);
    running_ = d;
}

void OutputCheck::primary_ended(uint64_t at) {
    primary_end_ = std::min(primary_end_, at);
    if (observed_ > primary_end_) diverge(primary_end_);
}

void OutputCheck::observe(uint64_t at, std::span<const uint8_t> bytes) {
    if (at + bytes.size() > primary_end_) diverge(std::max(at, primary_end_));
    if (at != observed_) {
        // A gap in what was observed: no pending span can be checked any more.
        unchecked_spans_ += pending_.size() - head_;
        pending_.clear();
        head_ = 0;
        running_ = SpanDigest{};
        observed_ = at;
    }
    const uint64_t end = at + bytes.size();
    while (head_ < pending_.size()) {
        const Span span = pending_[head_];
        if (span.offset >= end) break;
        const uint64_t from = std::max(span.offset + running_.size(), observed_);
        const uint64_t to = std::min(span.end(), end);
        running_.update(bytes.subspan(size_t(from - at), size_t(to - from)));
        if (running_.size() < span.length) break;
        settle(span, running_.value());
        pop_front();
    }
    observed_ = end;
}

void OutputCheck::replica_ended(uint64_t at) {
    // The primary's server wrote past `at` (a pending span ends beyond it): the two
    // outputs differ from there on.
    if (head_ < pending_.size()) diverge(at);
}

}  // namespace tcpfo
