#!/usr/bin/env bash
# The negative control of failover_tcpfo_run.sh: the same run with the replica NOT under
# tcpfo-run, so that it reads its own clock and randomness; the backup must catch the
# divergence and reset the connections instead of splicing them (see that script).
exec "$(dirname "$0")/failover_tcpfo_run.sh" --plain-replica "$@"
