// What a connection's rebuilt socket must look like, from what the backup holds:
// the primary's ISNs and options, the log's end, the client's last acknowledgement,
// window and timestamp echo.
#pragma once

#include <cstdint>
#include <optional>

#include <linux/types.h>

#include "userd/backup/input_log.h"
#include "userd/protocol/record_codec.h"
#include "replay/replica_output.h"
#include "userd/takeover/client_probe.h"
#include "userd/takeover/tcp_repair.h"
#include "bpf/tcpfo_events.h"

namespace tcpfo {

// `position`: where the client said it is (its answer to the takeover's probe). With
// it the rebuilt socket starts exactly at the client's rcv_nxt, so its first flight is
// never below the client's window; without it, at the last acknowledgement the backup
// saw (the ingress ACK ceiling and the egress lift then cover the difference).
RepairState repair_state_for(const ConnOpenRecord& conn, const InputLog& log, const ReplicaOutput& output,
                             const ClientView& client, uint64_t now_ms,
                             const std::optional<ClientPosition>& position = std::nullopt);

// The server stream offset the client has received up to, from its position: how much
// replica output to skip. nullopt when the position is not plausible (behind what the
// client acknowledged before, or implausibly far ahead of it).
std::optional<uint64_t> client_received_offset(const ConnOpenRecord& conn, const ReplicaOutput& output,
                                               const ClientPosition& position);

}  // namespace tcpfo
