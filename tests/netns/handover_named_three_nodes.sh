#!/usr/bin/env bash
# handover.sh with three data nodes (no witness): node A hands over to node 3 (C),
# named by its id; B follows C and keeps the old connections, which it takes over when
# C crashes; the handover's stall at the client at most 10 ms.
TCPFO_NODES=3 TCPFO_HANDOVER_TO=3 TCPFO_SCENARIO_NAME=handover_named_three_nodes exec "$(dirname "$0")/handover.sh" "$@"
