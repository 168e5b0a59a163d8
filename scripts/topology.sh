#!/usr/bin/env bash
# The namespace test topology (DESIGN.md, "Test topology"): three nodes on one bridge.
#
#                 tcpfo-switch-S   (bridge br0, no address; never in the root namespace)
#             ┌──────── br0 ─────────┬────────────────────┐
#             vc                     vp                   vb
#             │ veth                 │ veth               │ veth
#           eth0                   eth0                 eth0
#     tcpfo-client-S         tcpfo-primary-S        tcpfo-backup-S
#     192.0.2.1/24           192.0.2.10/24          192.0.2.11/24
#                            VIP 192.0.2.100/24: claimed by failoverd (or, for
#                            plain-TCP runs, added by hand with --vip-on NODE)
#
# S is a suffix that keeps concurrent runs apart (the scenario scripts use their PID).
#
# --witness adds a fourth namespace on the same bridge, for the witness of a two-node
# cluster (failoverd --witness: no VIP, no replica); every other scenario runs without:
#
#             br0 ── vw ── eth0  tcpfo-witness-S  192.0.2.12/24
#
# (three data nodes put the third data node there instead of a witness), and --fourth
# a fifth, for a fourth data node (four_nodes.sh):
#
#             br0 ── v4 ── eth0  tcpfo-fourth-S   192.0.2.13/24
#
#   scripts/topology.sh up [SUFFIX] [--vip-on primary|backup] [--witness] [--fourth]
#   scripts/topology.sh down [SUFFIX]        # never fails, whatever is left
#
# Sourced (by tests/netns/lib.sh, demo.sh, bench.sh) it only defines topo_names,
# topo_up and topo_down. TOPO_QUIET=1 stops it printing the commands it runs.

topo_vip=192.0.2.100
topo_prefix=24

topo_witness_ip=192.0.2.12
topo_fourth_ip=192.0.2.13

# topo_names SUFFIX: sets ns_client, ns_primary, ns_backup, ns_witness, ns_fourth, ns_switch.
topo_names() {
    ns_client=tcpfo-client-$1
    ns_primary=tcpfo-primary-$1
    ns_backup=tcpfo-backup-$1
    ns_witness=tcpfo-witness-$1
    ns_fourth=tcpfo-fourth-$1
    ns_switch=tcpfo-switch-$1
}

topo_run() {
    [ "${TOPO_QUIET:-0}" = 1 ] || echo "  [topology] $*"
    "$@"
}

# topo_up SUFFIX [VIP_NODE] [witness] [fourth]: fails (non-zero) at the first command
# that fails.
topo_up() {
    local suffix=$1 vip_node=${2:-} with_witness=${3:-} with_fourth=${4:-}
    topo_names "$suffix"
    local node ns addr port
    local -a nodes=(client:192.0.2.1:vc primary:192.0.2.10:vp backup:192.0.2.11:vb)
    [ "$with_witness" != witness ] || nodes+=("witness:$topo_witness_ip:vw")
    [ "$with_fourth" != fourth ] || nodes+=("fourth:$topo_fourth_ip:v4")
    topo_run ip netns add "$ns_switch" || return 1
    topo_run ip -n "$ns_switch" link set lo up || return 1
    topo_run ip -n "$ns_switch" link add br0 type bridge || return 1
    topo_run ip -n "$ns_switch" link set br0 up || return 1
    for node in "${nodes[@]}"; do
        IFS=: read -r node addr port <<<"$node"
        ns=tcpfo-$node-$suffix
        topo_run ip netns add "$ns" || return 1
        topo_run ip -n "$ns" link set lo up || return 1
        # IPv4 only: no router solicitations or MLD reports in captures.
        topo_run ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || return 1
        topo_run ip -n "$ns_switch" link add "$port" type veth peer name eth0 netns "$ns" || return 1
        topo_run ip -n "$ns_switch" link set "$port" master br0 up || return 1
        topo_run ip -n "$ns" addr add "$addr/$topo_prefix" dev eth0 || return 1
        topo_run ip -n "$ns" link set eth0 up || return 1
    done
    if [ -n "$vip_node" ]; then
        case $vip_node in primary|backup) ;; *) echo "topology: --vip-on expects primary or backup, got '$vip_node'" >&2; return 1 ;; esac
        topo_run ip -n "tcpfo-$vip_node-$suffix" addr add "$topo_vip/$topo_prefix" dev eth0 || return 1
    fi
    # Carrier comes up asynchronously; wait for it rather than sleeping.
    local tries=0
    for node in "${nodes[@]}"; do
        ns=tcpfo-${node%%:*}-$suffix
        until ip -n "$ns" -o link show eth0 | grep -q 'state UP'; do
            tries=$((tries + 1))
            [ $tries -lt 500 ] || { echo "topology: eth0 in $ns never came up" >&2; return 1; }
            sleep 0.01
        done
    done
}

# topo_down SUFFIX: kills what still runs in the namespaces (all of it was started
# inside them by our scripts), then deletes them; missing parts are fine.
topo_down() {
    topo_names "$1"
    local ns pids
    for ns in "$ns_client" "$ns_primary" "$ns_backup" "$ns_witness" "$ns_fourth" "$ns_switch"; do
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -9 $pids 2>/dev/null || true
        fi
        topo_run ip netns del "$ns" 2>/dev/null || true
    done
    return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    [ "$(id -u)" = 0 ] || { echo "topology.sh: must run as root (network namespaces)" >&2; exit 1; }
    action=${1:-}
    shift || true
    suffix=main
    vip_node=
    witness=
    fourth=
    while [ $# -gt 0 ]; do
        case $1 in
            --witness) witness=witness; shift ;;
            --fourth) fourth=fourth; shift ;;
            --vip-on) [ $# -ge 2 ] || { echo "topology.sh: --vip-on needs primary or backup" >&2; exit 2; }
                      vip_node=$2; shift 2 ;;
            -*) echo "topology.sh: unknown option $1" >&2; exit 2 ;;
            *) suffix=$1; shift ;;
        esac
    done
    case $action in
        up)
            if ! topo_up "$suffix" "$vip_node" "$witness" "$fourth"; then
                echo "topology.sh: setting up failed; removing what was made" >&2
                TOPO_QUIET=1 topo_down "$suffix"
                exit 1
            fi
            echo "topology $suffix up: $ns_client $ns_primary $ns_backup${witness:+ $ns_witness}${fourth:+ $ns_fourth} (bridge in $ns_switch)" ;;
        down) topo_down "$suffix" ;;
        *) echo "usage: topology.sh up|down [SUFFIX] [--vip-on primary|backup] [--witness] [--fourth]" >&2; exit 2 ;;
    esac
fi
