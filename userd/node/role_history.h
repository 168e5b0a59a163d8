// The roles a node has held since it started, for `failoverctl status` (roles, since
// when, at which epoch, why). Bounded: a node that changes role again and again keeps
// its first role and the latest ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "userd/status/node_status.h"

namespace tcpfo {

class RoleHistory {
public:
    static constexpr size_t kMaxEntries = 32;
    // Logged once, in the one-line format: "role: backup -> primary at epoch 2 (why)".
    void enter(const std::string& role, uint64_t epoch, const std::string& why);
    const std::string& current() const;
    const std::vector<RoleChange>& entries() const { return entries_; }

private:
    std::vector<RoleChange> entries_;
};

}  // namespace tcpfo
