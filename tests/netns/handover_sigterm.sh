#!/usr/bin/env bash
# handover.sh with SIGTERM to the primary's failoverd as the handover: with a ready
# backup it hands over on the way out (freeze, flush, VIP, HANDOVER), then exits.
TCPFO_HANDOVER_BY=sigterm exec "$(dirname "$0")/handover.sh" "$@"
