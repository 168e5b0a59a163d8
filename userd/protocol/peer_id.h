// Which peer a record, heartbeat or stable point concerns: the peer's position in the
// node list given at start. It is the peer's for the daemon's life (a peer that drops
// and reconnects keeps it), so per-peer tables may be indexed by it.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>

namespace tcpfo {

struct PeerId {
    uint16_t value = 0;
    size_t index() const { return value; }
    friend auto operator<=>(PeerId, PeerId) = default;
};

}  // namespace tcpfo
