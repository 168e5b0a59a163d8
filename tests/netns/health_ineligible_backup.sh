#!/usr/bin/env bash
# health_handover.sh with the backup's health check failing from the start: it is not
# eligible, is not handed over to, and does not take over the primary's crash until
# its service is healthy again.
TCPFO_HEALTH_FAILING=backup exec "$(dirname "$0")/health_handover.sh" "$@"
