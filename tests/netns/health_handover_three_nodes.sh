#!/usr/bin/env bash
# health_handover.sh with three data nodes (no witness): B's service fails its check
# from the start, then A's: A hands over to the healthy backup, C; B follows C.
TCPFO_NODES=3 TCPFO_HEALTH_FAILING=primary exec "$(dirname "$0")/health_handover.sh" "$@"
