// A connection a node rebuilt at its takeover and that the primary it becomes resumes
// toward the backups that follow it (Takeover::Context::resume_for_followers, then
// PrimaryNode's resume_tails.h): what the takeover knew of it, handed over once.
#pragma once

#include <cstdint>
#include <vector>

#include "userd/protocol/record_codec.h"
#include "userd/takeover/tcp_repair.h"

namespace tcpfo {

struct Resumable {
    ConnOpenRecord conn;   // as the dead primary opened it (ids, ISNs, options)
    RepairState state;     // as rebuilt
    // The client's bytes this node held above what its replica had been fed when
    // the takeover began (at most its log's pending bound): a follower's log may
    // end anywhere above that point (it fed only committed bytes, and the commit
    // point was at most what this node held), so from here it can be completed.
    uint64_t tail_offset = 0;
    std::vector<uint8_t> tail;
    uint64_t client_acked = 0;  // server offset the client acknowledged, as this node knew
    bool adopted = false;       // the hooks protect it again
};

}  // namespace tcpfo
