#!/usr/bin/env bash
# handover.sh with three data nodes (no witness): node A hands over to any ready
# backup (B), C follows B and keeps the old connections, which it takes over when B
# crashes; the handover's stall at the client at most 10 ms.
TCPFO_NODES=3 TCPFO_HANDOVER_TO= TCPFO_SCENARIO_NAME=handover_three_nodes exec "$(dirname "$0")/handover.sh" "$@"
