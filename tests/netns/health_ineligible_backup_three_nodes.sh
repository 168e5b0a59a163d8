#!/usr/bin/env bash
# health_handover.sh with three data nodes (no witness) and B's service failing its
# check: when A crashes, C is elected although B would rank higher; B follows C.
TCPFO_NODES=3 TCPFO_HEALTH_FAILING=backup exec "$(dirname "$0")/health_handover.sh" "$@"
