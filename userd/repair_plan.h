// What a connection's rebuilt socket must look like, from what the backup holds:
// the primary's ISNs and options, the log's end, the client's last acknowledgement,
// window and timestamp echo.
#pragma once

#include <cstdint>

#include <linux/types.h>

#include "input_log.h"
#include "record_codec.h"
#include "replica_output.h"
#include "tcp_repair.h"
#include "tcpfo_events.h"

namespace tcpfo {

RepairState repair_state_for(const ConnOpenRecord& conn, const InputLog& log, const ReplicaOutput& output,
                             const ClientView& client, uint64_t now_ms);

}  // namespace tcpfo
