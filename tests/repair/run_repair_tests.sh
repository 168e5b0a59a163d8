#!/usr/bin/env bash
# Runs the takeover kernel-interface tests (TCP_REPAIR, VIP, gratuitous ARP) in network
# namespaces made for this run, and always removes them.
#
#   client  eth0 192.0.2.1/24  ──pc─┐
#   A       eth0 192.0.2.11/24 ──pa─┼─ br0      (all in namespace "br")
#   B       eth0 192.0.2.12/24 ──pb─┘
#   unit    u0 192.0.2.21/24 ═ u1 (a veth pair), u2 ═ u3 (down): bad-input tests
#
# The VIP 192.0.2.100 is claimed by the tests themselves. Namespace names carry this
# script's PID; interface names live only inside those namespaces (each link is created
# directly in its namespaces), so concurrent runs never collide.
#
# usage: run_repair_tests.sh <test binary> [gtest arguments]
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run_repair_tests.sh: must run as root (namespaces, TCP_REPAIR)" >&2; exit 1; }
binary=${1:?usage: run_repair_tests.sh <test binary> [gtest arguments]}
shift

id=$$
ns_br=tcpfo-rp-br-$id
ns_client=tcpfo-rp-client-$id
ns_a=tcpfo-rp-a-$id
ns_b=tcpfo-rp-b-$id
ns_unit=tcpfo-rp-unit-$id
all_ns="$ns_br $ns_client $ns_a $ns_b $ns_unit"
test_pid=

cleanup() {
    [ -n "$test_pid" ] && kill -KILL "$test_pid" 2>/dev/null || true
    for ns in $all_ns; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pretty() { echo "[+] $*"; }
run() { pretty "$@"; "$@"; }

for ns in $all_ns; do
    run ip netns add "$ns"
    run ip -n "$ns" link set lo up
done

run ip -n "$ns_br" link add br0 type bridge
run ip -n "$ns_br" link set br0 up
attach() {  # attach <namespace> <bridge port> <address>
    run ip -n "$ns_br" link add "$2" type veth peer name eth0 netns "$1"
    run ip -n "$ns_br" link set "$2" master br0 up
    run ip -n "$1" addr add "$3" dev eth0
    run ip -n "$1" link set eth0 up
}
attach "$ns_client" pc 192.0.2.1/24
attach "$ns_a" pa 192.0.2.11/24
attach "$ns_b" pb 192.0.2.12/24

run ip -n "$ns_unit" link add u0 type veth peer name u1
run ip -n "$ns_unit" addr add 192.0.2.21/24 dev u0
run ip -n "$ns_unit" link set u0 up
run ip -n "$ns_unit" link set u1 up
run ip -n "$ns_unit" link add u2 type veth peer name u3

# Wait for the bridge ports to forward (no STP: they forward as soon as they are up,
# and IPv4 needs no DAD) by pinging B from the client.
for _ in $(seq 100); do
    ip netns exec "$ns_client" ping -c1 -W1 -q 192.0.2.12 >/dev/null 2>&1 && break
done
ip netns exec "$ns_client" ping -c1 -W1 -q 192.0.2.11 >/dev/null

export TCPFO_NS_CLIENT=$ns_client TCPFO_NS_A=$ns_a TCPFO_NS_B=$ns_b \
       TCPFO_NS_BRIDGE=$ns_br TCPFO_NS_UNIT=$ns_unit
# In the background, so a signal to this script reaches the trap at once.
"$binary" "$@" &
test_pid=$!
status=0
wait "$test_pid" || status=$?
test_pid=
exit "$status"
