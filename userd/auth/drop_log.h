// Dropped input, counted and logged without a flood: the first drop of a kind from a
// source is one line at once; later ones from the same source and kind are counted,
// and at most one line per period says how many (docs/operations.md, "Keys"). A
// hostile or misconfigured peer costs a few lines, whatever its rate.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "userd/auth/frame_auth.h"

namespace tcpfo {

class DropLog {
public:
    static constexpr uint64_t kDefaultPeriodMs = 10'000;
    // `what`: the line's subject, "heartbeat" or "replication stream".
    explicit DropLog(std::string what, uint64_t period_ms = kDefaultPeriodMs);

    // Counts one drop from `source` ("192.0.2.9:7100"; sources are told apart by
    // address) and logs it if it is the first of its kind from there in this period.
    // Returns whether a line was written. One thread per DropLog; the counts may be
    // read from any.
    bool note(const std::string& source, uint32_t source_addr, const AuthError& error, uint64_t now_ms);
    uint64_t count(AuthDrop kind) const { return counts_[size_t(kind)].load(std::memory_order_relaxed); }
    uint64_t total() const;

private:
    struct Slot {
        uint64_t logged_ms = 0;
        uint64_t unlogged = 0;  // drops since the last line
    };
    // Spoofed sources could grow the table without bound: past this many, slots
    // whose period is over are forgotten.
    static constexpr size_t kMaxSlots = 256;

    std::string what_;
    uint64_t period_ms_;
    std::map<std::pair<uint32_t, AuthDrop>, Slot> slots_;
    std::atomic<uint64_t> counts_[kAuthDropKinds]{};
};

}  // namespace tcpfo
