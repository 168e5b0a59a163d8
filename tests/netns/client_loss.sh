#!/usr/bin/env bash
# The client loses segments on its way to the server: does it recover as fast on a
# protected connection as on a plain one? The clamp must let the server's SACK blocks
# through (bpf/snoop.bpf.c, apply_ack_clamp): without them a client that negotiated
# SACK resends nothing before its retransmission timer, and every lost segment costs
# an RTO (found in session 13: 13 timeouts, 0 SACK recoveries, a 317 ms stall and half
# the throughput, where plain TCP had 0 timeouts and 9 recoveries).
#
#      client 192.0.2.1 ── [lossy link] ── br0 ──┬── primary 192.0.2.10, VIP 192.0.2.100: echo service :7000
#                                                 └── backup 192.0.2.11: replica :7000
#
# The lossy link (tests/tools/lossy_link.bpf.c, on the switch's port of the client)
# drops every 200th segment the client sends with payload. The same upload (4
# connections, 8 MiB each) runs twice on this topology: to the primary's own address
# (plain TCP: failoverd protects only VIP:7000) and to the VIP (protected, the clamp
# active: the backup holds every byte the client sees acknowledged). Each run's
# counters come from the client's namespace (nstat).
#
# Pass: both runs lost segments, every byte arrived, and the protected run recovered
# by SACK (at least one recovery) with at most 2 retransmission timeouts (a dropped
# retransmission may legitimately need the timer).
. "$(dirname "$0")/lib.sh"
require_failoverd

lossy_link_obj=$build/tests/tools/lossy_link.bpf.o
counters="TcpExtTCPTimeouts TcpExtTCPSackRecovery TcpRetransSegs"

# client_counter NAME: the client namespace's absolute count of NAME.
client_counter() { ip netns exec "$ns_client" nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'; }

declare -A before
snapshot_counters() { local n; for n in $counters; do before[$n]=$(client_counter "$n"); done; }
delta() { echo $(($(client_counter "$1") - ${before[$1]})); }

# upload_through_loss NAME ADDR: the upload to ADDR:7000, every byte checked; sets
# timeouts, recoveries, retransmitted and mbps of the run.
upload_through_loss() {
    local name=$1 addr=$2
    snapshot_counters
    c_bg "$name" "$stream_client" upload --connect "$addr:$port" --conns 4 --bytes 8M --seed 31 --timeout-s 120 --label "$name"
    finish_client "$name"
    timeouts=$(delta TcpExtTCPTimeouts)
    recoveries=$(delta TcpExtTCPSackRecovery)
    retransmitted=$(delta TcpRetransSegs)
    mbps=$(client_field "$name" up_MBps)
    echo "  $name: $retransmitted segment(s) resent, $recoveries SACK recover(ies), $timeouts timeout(s), $mbps MB/s"
}

scenario() {
    [ -f "$lossy_link_obj" ] || { echo "FAIL: $lossy_link_obj is missing: run scripts/build.sh first" >&2; return 1; }
    start_services
    start_failoverd
    say switch "tc filter add dev vc ingress bpf obj lossy_link.bpf.o"
    ip netns exec "$ns_switch" tc qdisc add dev vc clsact
    ip netns exec "$ns_switch" tc filter add dev vc ingress bpf direct-action obj "$lossy_link_obj" sec tc

    upload_through_loss plain "$primary_ip"
    local plain_timeouts=$timeouts plain_mbps=$mbps
    [ "$retransmitted" -gt 0 ] || { echo "FAIL: the plain upload lost nothing: is the lossy link attached?" >&2; return 1; }

    upload_through_loss protected "$vip"
    [ "$retransmitted" -gt 0 ] || { echo "FAIL: the protected upload lost nothing" >&2; return 1; }
    if [ "$recoveries" -lt 1 ] || [ "$timeouts" -gt 2 ]; then
        echo "FAIL: the protected client recovered by its timer ($timeouts timeout(s), $recoveries SACK recover(ies); plain TCP: $plain_timeouts timeout(s))" >&2
        return 1
    fi
    echo "  protected/plain throughput through the loss: $(awk -v a="$mbps" -v b="$plain_mbps" 'BEGIN {printf "%.2f", a / b}')"
    ip netns exec "$ns_switch" tc qdisc del dev vc clsact
}

run_scenario client_loss
