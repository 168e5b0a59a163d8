// What a connection's rebuilt socket must look like, from what the backup holds:
// the primary's ISNs and options, the log's end, the client's last acknowledgement,
// window and timestamp echo.
#pragma once

#include <cstdint>

#include <linux/types.h>

#include "userd/backup/input_log.h"
#include "userd/protocol/record_codec.h"
#include "replay/replica_output.h"
#include "userd/takeover/tcp_repair.h"
#include "bpf/tcpfo_events.h"

namespace tcpfo {

// The MSS a rebuilt socket uses: the client's, or 536 if its SYN had none. Known when
// the connection opens, so the socket prepared then already carries it.
uint16_t rebuilt_mss(const ConnOpenRecord& conn);

RepairState repair_state_for(const ConnOpenRecord& conn, const InputLog& log, const ReplicaOutput& output,
                             const ClientView& client, uint64_t now_ms);

}  // namespace tcpfo
