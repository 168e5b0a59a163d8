#!/usr/bin/env bash
# failoverd keeps only the capabilities it reports once started (userd/base/privileges.h),
# in every thread (capabilities are per thread: the heartbeat thread starts before the
# drop and follows it), and a takeover still works with them: one connection streams
# through a hard crash of the primary, as in failover_stream.sh.
#
#      client 192.0.2.1 ──── br0 ──┬── primary 192.0.2.10 (failoverd --role primary)
#                                  └── backup 192.0.2.11  (failoverd --role backup)
. "$(dirname "$0")/lib.sh"
require_failoverd

# CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_NICE 23, CAP_BPF 39 (on a kernel that knows it).
expected_mask=$(printf '%016x' $(( (1 << 12) | (1 << 13) | (1 << 23) | (1 << 39) )))

# capabilities_of NODE: every thread of NODE's failoverd holds exactly the kept set
# (effective, permitted and bounding), and its log names them.
capabilities_of() {
    local node=$1 pid=${bg_pid[failoverd-$1]} task field value threads=0
    for task in /proc/$pid/task/*; do
        threads=$((threads + 1))
        for field in CapEff CapPrm CapBnd; do
            value=$(awk -v f="$field:" '$1 == f { print $2 }' "$task/status")
            [ "$value" = "$expected_mask" ] ||
                { echo "FAIL: $node's failoverd thread ${task##*/}: $field $value, expected $expected_mask" >&2; return 1; }
        done
    done
    grep -q "keeps the capabilities cap_net_admin, cap_net_raw, cap_bpf, cap_sys_nice and drops the rest" \
        "$work/failoverd-$node.log" || { echo "FAIL: $node's failoverd did not say which capabilities it kept" >&2; return 1; }
    echo "  $node: $threads thread(s), each with CapEff = CapPrm = CapBnd = $expected_mask"
}
# The heartbeat thread drops at its next tick (10 ms): wait for the condition.
all_dropped() { capabilities_of "$1" >/dev/null 2>&1; }

scenario() {
    [ "$(cat /proc/sys/kernel/cap_last_cap)" -ge 39 ] || { echo "SKIP: this kernel has no CAP_BPF"; return 0; }
    start_services
    start_failoverd
    local node
    for node in primary backup; do
        wait_until 5 "every thread of the $node's failoverd to drop its capabilities" all_dropped $node
        capabilities_of $node
    done
    stream_through_crash
}

run_scenario least_privilege
