#!/usr/bin/env bash
# failover_service_crash.sh with three data nodes (no witness): A's service dies, B
# takes its connections over, C follows B and keeps them, and takes them over when B
# crashes; no client sees a reset or a wrong byte.
TCPFO_NODES=3 TCPFO_SCENARIO_NAME=failover_service_crash_three_nodes exec "$(dirname "$0")/failover_service_crash.sh" "$@"
