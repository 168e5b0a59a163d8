#include "userd/node/role_history.h"

#include "userd/base/event_loop.h"
#include "userd/base/log.h"

namespace tcpfo {

void RoleHistory::enter(const std::string& role, uint64_t epoch, const std::string& why) {
    const std::string from = entries_.empty() ? std::string("none") : entries_.back().role;
    log_info("role: {} -> {} at epoch {} ({})", from, role, epoch, why);
    // The first entry says how the node started: kept when the middle is dropped.
    if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin() + 1);
    entries_.push_back(RoleChange{role, epoch, realtime_us(), why});
}

const std::string& RoleHistory::current() const {
    static const std::string none = "none";
    return entries_.empty() ? none : entries_.back().role;
}

}  // namespace tcpfo
