#!/usr/bin/env bash
# The crash demo: a client streams through the VIP, the primary crashes hard in the
# middle of the stream, the backup takes over, and the client checks that every byte
# came back in order, how long it stalled, and that it never saw a reset.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service, failoverd
#                                  └── backup 192.0.2.11: replica of the echo service, failoverd
#
# Installs what is missing and builds first. Run as root, from anywhere.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "demo.sh: must run as root (network namespaces, BPF)" >&2; exit 1; }
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"

build=${TCPFO_BUILD_DIR:-$top/build}
if [ ! -x "$build/userd/failoverd" ]; then
    echo "demo.sh: $build/userd/failoverd was not built; the demo needs the daemon" >&2
    exit 1
fi
bytes_mib=${DEMO_MIB:-64}

# The namespace test library: topology, services, failoverd, crash, cleanup trap.
# shellcheck source=../tests/netns/lib.sh
. "$top/tests/netns/lib.sh"
export TOPO_QUIET=1

echo "=== building the topology (namespaces with suffix demo-$$)"
setup_run demo
echo "=== starting the echo service (primary) and its replica (backup)"
start_services
echo "=== starting failoverd on both nodes"
start_failoverd
echo "=== the client streams ${bytes_mib} MiB each way through $vip:$port"
c_bg demo "$stream_client" echo --connect $vip:$port --bytes "${bytes_mib}M" --rate 20 \
    --progress-file "$work/demo.progress" --timeout-s 120 --crash-file "$work/crash.time" --label demo
wait_until 60 "$((bytes_mib * 2 / 5)) MiB echoed" \
    progress_at_least "$work/demo.progress" verified $((bytes_mib * 2 / 5 << 20))
echo "  $(cut -d' ' -f2 "$work/demo.progress") bytes echoed and verified so far"
echo "=== failoverctl status, primary and backup (excerpts)"
node_status primary | jq -c '{role, epoch, peers: [.peers[] | {address, state, queued_bytes}], hooks,
    connections: [.connections[] | {id, client, protected, client_bytes, server_bytes}]}' | sed 's/^/  /'
node_status backup | jq -c '{role, epoch, peers: [.peers[] | {address, state}],
    connections: [.connections[] | {id, client, protected, client_bytes}]}' | sed 's/^/  /'
crash_primary
wait_takeover 1
node_status backup | jq -c '{role, epoch, takeover: (.takeover | {reason, rebuilt, reset, total_ms}),
    connections: [.connections[] | {id, client, rebuilt, phase}]}' | sed 's/^/  /'
echo "=== waiting for the client to finish the stream"
rc=0
wait "${bg_pid[demo]}" || rc=$?
unset "bg_pid[demo]"
summary=$(grep '^stream-client' "$work/demo.log" || true)
grep -v '^stream-client' "$work/demo.log" || true
echo "$summary"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$summary"; }
echo
if [ $rc -eq 0 ] && [ "$(field resets)" = 0 ] && [ "$(field early_eofs)" = 0 ]; then
    echo "RESULT: all $(field verified) bytes came back in order, none lost, duplicated or corrupted;"
    echo "        the client stalled $(field crash_stall_ms) ms across the crash, and its"
    echo "        connection was never reset."
else
    echo "RESULT: FAILED (client exit $rc): resets=$(field resets) early EOFs=$(field early_eofs)" \
         "corrupt=$(field corrupt) timeouts=$(field timeouts)"
    exit 1
fi
