#!/usr/bin/env bash
# health_handover.sh with both services failing: the primary's check goes down while
# its backup is not eligible, so it keeps serving; it hands over once the backup's
# check passes again.
TCPFO_HEALTH_FAILING=both exec "$(dirname "$0")/health_handover.sh" "$@"
