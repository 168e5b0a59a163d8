#!/usr/bin/env bash
# rejoin_preempt.sh without --preempt: the old primary, of higher priority, comes back
# as the backup of the node that took over and stays its backup.
TCPFO_PREEMPT=0 exec "$(dirname "$0")/rejoin_preempt.sh" "$@"
