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
# active: the backup holds every byte the client sees acknowledged). Then the other
# way: the lossy link moves to the primary's port (every 200th segment of port 7000
# the server sends with payload) and the same two runs download. Each run's counters
# come from the sender's namespace (nstat).
#
# Pass: every run lost segments, every byte arrived, and each protected run recovered
# by SACK (at least one recovery) with at most 2 retransmission timeouts (a dropped
# retransmission may legitimately need the timer).
. "$(dirname "$0")/lib.sh"
require_failoverd

lossy_link_obj=$build/tests/tools/lossy_link.bpf.o

# sender_counter NS NAME: namespace NS's absolute count of NAME.
sender_counter() { ip netns exec "$1" nstat -az "$2" | awk -v n="$2" '$1 == n {print $2}'; }

# lossy_link PORT: the lossy link on the switch's port PORT (vc: the client's, vp: the
# primary's), and on no other.
lossy_link() {
    local port
    for port in vc vp; do ip netns exec "$ns_switch" tc qdisc del dev $port clsact 2>/dev/null || true; done
    say switch "tc filter add dev $1 ingress bpf obj lossy_link.bpf.o"
    ip netns exec "$ns_switch" tc qdisc add dev "$1" clsact
    ip netns exec "$ns_switch" tc filter add dev "$1" ingress bpf direct-action obj "$lossy_link_obj" sec tc
}

# through_loss NAME MODE ADDR SENDER_NS: MODE (upload, download) with ADDR:7000, every
# byte checked; sets timeouts, recoveries, retransmitted and mbps of the run, counted
# in the sending side's namespace.
through_loss() {
    local name=$1 mode=$2 addr=$3 ns=$4 t0 r0 s0 field=up_MBps
    [ "$mode" = upload ] || field=down_MBps
    t0=$(sender_counter "$ns" TcpExtTCPTimeouts) r0=$(sender_counter "$ns" TcpExtTCPSackRecovery)
    s0=$(sender_counter "$ns" TcpRetransSegs)
    c_bg "$name" "$stream_client" "$mode" --connect "$addr:$port" --conns 4 --bytes 8M --seed 31 --timeout-s 120 --label "$name"
    finish_client "$name"
    timeouts=$(($(sender_counter "$ns" TcpExtTCPTimeouts) - t0))
    recoveries=$(($(sender_counter "$ns" TcpExtTCPSackRecovery) - r0))
    retransmitted=$(($(sender_counter "$ns" TcpRetransSegs) - s0))
    mbps=$(client_field "$name" "$field")
    echo "  $name: $retransmitted segment(s) resent, $recoveries SACK recover(ies), $timeouts timeout(s), $mbps MB/s"
}

# plain_and_protected MODE SENDER_NS: the plain run, then the protected one, checked.
plain_and_protected() {
    local mode=$1 ns=$2 plain_timeouts plain_mbps
    through_loss "plain-$mode" "$mode" "$primary_ip" "$ns"
    plain_timeouts=$timeouts plain_mbps=$mbps
    [ "$retransmitted" -gt 0 ] || { echo "FAIL: the plain $mode lost nothing: is the lossy link attached?" >&2; return 1; }
    through_loss "protected-$mode" "$mode" "$vip" "$ns"
    [ "$retransmitted" -gt 0 ] || { echo "FAIL: the protected $mode lost nothing" >&2; return 1; }
    if [ "$recoveries" -lt 1 ] || [ "$timeouts" -gt 2 ]; then
        echo "FAIL: the protected $mode recovered by its timer ($timeouts timeout(s), $recoveries SACK recover(ies); plain TCP: $plain_timeouts timeout(s))" >&2
        return 1
    fi
    echo "  protected/plain $mode throughput through the loss: $(awk -v a="$mbps" -v b="$plain_mbps" 'BEGIN {printf "%.2f", a / b}')"
}

scenario() {
    [ -f "$lossy_link_obj" ] || { echo "FAIL: $lossy_link_obj is missing: run scripts/build.sh first" >&2; return 1; }
    start_services
    start_failoverd
    lossy_link vc
    plain_and_protected upload "$ns_client"
    lossy_link vp
    plain_and_protected download "$ns_primary"
    ip netns exec "$ns_switch" tc qdisc del dev vp clsact
}

run_scenario client_loss
