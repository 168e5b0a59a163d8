#include "userd/auth/drop_log.h"

#include "userd/base/log.h"

namespace tcpfo {

DropLog::DropLog(std::string what, uint64_t period_ms) : what_(std::move(what)), period_ms_(period_ms) {}

uint64_t DropLog::total() const {
    uint64_t sum = 0;
    for (const auto& c : counts_) sum += c.load(std::memory_order_relaxed);
    return sum;
}

bool DropLog::note(const std::string& source, uint32_t source_addr, const AuthError& error, uint64_t now_ms) {
    counts_[size_t(error.kind)].fetch_add(1, std::memory_order_relaxed);
    const auto key = std::make_pair(source_addr, error.kind);
    auto it = slots_.find(key);
    if (it == slots_.end()) {
        if (slots_.size() >= kMaxSlots)
            std::erase_if(slots_, [&](const auto& s) { return now_ms - s.second.logged_ms >= period_ms_; });
        if (slots_.size() >= kMaxSlots) return false;  // counted, not logged: the table is full of fresh sources
        it = slots_.emplace(key, Slot{now_ms, 0}).first;
        log_warn("{}: dropped input from {} ({}): {}; more from there are counted, one line per {} s at most", what_,
                 source, auth_drop_text(error.kind), error.message, period_ms_ / 1000);
        return true;
    }
    Slot& slot = it->second;
    if (now_ms - slot.logged_ms < period_ms_) {
        ++slot.unlogged;
        return false;
    }
    log_warn("{}: dropped input from {} ({}): {}; {} more dropped since the last line", what_, source,
             auth_drop_text(error.kind), error.message, slot.unlogged);
    slot.logged_ms = now_ms;
    slot.unlogged = 0;
    return true;
}

}  // namespace tcpfo
