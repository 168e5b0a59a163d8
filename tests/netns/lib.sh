# Shared by the namespace scenarios: sourced, never run. It sets up the topology of
# scripts/topology.sh, starts the echo service (application on the primary, replica on
# the backup) and failoverd on both, crashes the primary hard, and cleans up everything
# in a trap, also when the scenario fails.
#
#      client ──────── br0 ─────── primary 192.0.2.10  (VIP 192.0.2.100, echo service :7000,
#   192.0.2.1           │                               failoverd --role primary)
#                       └───────── backup 192.0.2.11   (replica :7000,
#                                                       failoverd --role backup --replica 127.0.0.1:7000)
#
# A scenario script defines `scenario` and calls `run_scenario NAME`; TCPFO_REPEAT=N
# runs it N times in a row, each on a fresh topology.
# Helpers print what they run: `  [primary] ip link set eth0 down`.
set -euo pipefail

netns_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$netns_dir/../.." && pwd)
build=${TCPFO_BUILD_DIR:-$top/build}
# shellcheck source=../../scripts/topology.sh
. "$top/scripts/topology.sh"

echo_service=$build/tests/tools/tcpfo-echo-service
stream_client=$build/tests/tools/tcpfo-stream-client
failoverd=$build/userd/failoverd
failoverctl=$build/userd/failoverctl
tcpfo_run=$build/replay/preload/tcpfo-run

vip=192.0.2.100
port=7000
client_ip=192.0.2.1
primary_ip=192.0.2.10
backup_ip=192.0.2.11
witness_ip=$topo_witness_ip
fourth_ip=$topo_fourth_ip
replication_port=7100
# with_witness=1 (set before run_scenario, or TCPFO_WITNESS=1 for any scenario): the
# topology gets the witness namespace, the daemons are described the symmetric way
# with node 3 as their witness, and start_failoverd starts `failoverd --witness` there
# first (leases enforced).
with_witness=${TCPFO_WITNESS:-}
# The lease every node of a witness cluster is given (--lease-ms): 100 ms by default
# here, not failoverd's 30 (heartbeat_ms x dead_after). On the test machine under load
# (QEMU guests beside the tests) heartbeats between namespaces were sometimes late by
# more than 30 ms: the witness then let its promise run out and elected the backup (a
# failover the partition scenario forbids), or a new primary's lease lapsed. The
# default is exercised with TCPFO_LEASE_MS=30, and by the unit tests.
lease_ms=${TCPFO_LEASE_MS:-100}
# with_fourth=1 (set before run_scenario, with with_witness=1 and failoverd_style=three):
# the topology gets a fifth namespace, tcpfo-fourth-S at 192.0.2.13, for a fourth data
# node ("fourth", node 4); every node is then given four --node entries (quorum 3 of 4).
with_fourth=

[ "$(id -u)" = 0 ] || { echo "$(basename "$0"): must run as root (network namespaces)" >&2; exit 1; }
for tool in "$echo_service" "$stream_client"; do
    [ -x "$tool" ] || { echo "$(basename "$0"): $tool is missing: run scripts/build.sh first" >&2; exit 1; }
done

# The failover scenarios need the daemon; only its absence makes them skip.
require_failoverd() {
    if [ ! -x "$failoverd" ]; then
        echo "SKIP: $failoverd does not exist (the daemon is not built yet)"
        exit 77
    fi
}

work=
suffix=
declare -A bg_pid=()
declare -a stalls=()

say() { printf '  [%s] %s\n' "$1" "$2" >&2; }
c() { say client "$*"; ip netns exec "$ns_client" "$@"; }
p() { say primary "$*"; ip netns exec "$ns_primary" "$@"; }
b() { say backup "$*"; ip netns exec "$ns_backup" "$@"; }
w() { say witness "$*"; ip netns exec "$ns_witness" "$@"; }

# in_bg NODE NAME CMD...: run CMD in NODE's namespace in the background, output in
# $work/NAME.log, PID in bg_pid[NAME].
in_bg() {
    local node=$1 name=$2 ns
    shift 2
    case $node in client) ns=$ns_client ;; primary) ns=$ns_primary ;; backup) ns=$ns_backup ;; witness | third) ns=$ns_witness ;;
        fourth) ns=$ns_fourth ;; esac
    say "$node" "$* > $name.log &"
    ip netns exec "$ns" "$@" >"$work/$name.log" 2>&1 &
    bg_pid[$name]=$!
}
c_bg() { in_bg client "$@"; }
p_bg() { in_bg primary "$@"; }
b_bg() { in_bg backup "$@"; }

# nap SECONDS: sleeps without a fork: read -t on a FIFO that nobody writes to
# (setup_run opens it). The polling loops below run beside the system under test, on
# the same two cores: forking `sleep` every 10 ms took a fifth of the CPU while
# failover_many streamed (perf), and with it the replica's turn.
nap_fd=
nap() {
    if [ -n "$nap_fd" ]; then read -r -t "$1" -u "$nap_fd" _ || true; else sleep "$1"; fi
}

# wait_until [--every SECONDS] SECONDS WHAT CMD...: poll CMD every 10 ms (or as
# given); fail with WHAT after SECONDS.
wait_until() {
    local every=0.01 seconds what deadline
    if [ "$1" = --every ]; then every=$2; shift 2; fi
    seconds=$1 what=$2
    shift 2
    deadline=$((${EPOCHREALTIME/./} + seconds * 1000000))
    until "$@"; do
        if [ "${EPOCHREALTIME/./}" -ge $deadline ]; then
            echo "FAIL: timed out after ${seconds}s waiting for $what" >&2
            return 1
        fi
        nap "$every"
    done
}

# Conditions for wait_until.
listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }
# progress_at_least FILE FIELD N: FIELD (verified, sent, done, paused) of a client's
# --progress-file has reached N.
progress_at_least() { [ -f "$1" ] && awk -v f="$2" -v n="$3" '{for (i = 1; i < NF; i += 2) if ($i == f && $(i + 1) >= n) ok = 1} END {exit !ok}' "$1"; }
# count_in NAME PATTERN: lines of $work/NAME.log that match; lines_at_least NAME PATTERN N.
count_in() { grep -c "$2" "$work/$1.log" || true; }
lines_at_least() { [ "$(count_in "$1" "$2")" -ge "$3" ]; }
log_has() { [ -f "$work/$1.log" ] && grep -q "$2" "$work/$1.log"; }
no_process_in() { [ -z "$(ip netns pids "$1")" ]; }
# node_status NODE [ARGS...]: `failoverctl status` of failoverd on NODE (primary or
# backup), through the control socket start_failoverd gave it (JSON on stdout).
node_status() { local node=$1; shift; "$failoverctl" --control "$work/$node.sock" status "$@"; }

# handed_over_or_rejoined NODE: NODE handed over and is silent, or has rejoined since as
# a backup of the node it handed over to (its roles end handed-over -> backup; a node
# with a node list and --replica does so two detection times after the next epoch serves).
handed_over_or_rejoined() {
    node_status "$1" 2>/dev/null |
        jq -e '.role == "handed-over" or ([.roles[].role] | .[-2:] == ["handed-over", "backup"])' >/dev/null
}
# A bash match rather than jq: polled while the takeover runs, and jq's start-up alone
# costs milliseconds of the CPU the takeover needs.
takeover_finished() { local st; st=$(node_status backup 2>/dev/null) && [[ $st =~ \"finished_us\":\ ?[0-9] ]]; }

# check_json NAME JSON FILTER WHAT: FILTER (jq -e) must hold on JSON, else WHAT is
# added to the calling scenario's `failures`, with NAME's JSON.
check_json() {
    local name=$1 json=$2 filter=$3 what=$4
    jq -e "$filter" >/dev/null <<<"$json" || failures+=("$what; $name: $(jq -c . <<<"$json")")
}

# check_recorded_before_crash PRIMARY_SERVICE [BACKUP_SERVICE]: the nodes' `.service`,
# read just before the crash: the primary recorded (mode record, channel open,
# log_bytes > 0, held > 0: replies waited at the output gate for the backup); the
# backup, when given, replaying in step (mode replay, open, log_bytes > 0, not refused).
check_recorded_before_crash() {
    echo "  before the crash: primary .service $1"
    check_json "the primary's .service" "$1" '.mode == "record" and .open == true and .log_bytes > 0 and .held > 0' \
        "before the crash the primary did not show the service recorded (mode record, open, log_bytes > 0, held > 0)"
    [ $# -ge 2 ] || return 0
    echo "  before the crash: backup .service $2"
    check_json "the backup's .service" "$2" \
        '.mode == "replay" and .open == true and .log_bytes > 0 and (.refused // "") == ""' \
        "before the crash the backup did not show the replica replaying in step (mode replay, open, log_bytes > 0, not refused)"
}

# check_replay_kept_step STATUS: the backup's status after a takeover with its replica
# under tcpfo-run: no connection reset as diverged, the output check found none and
# checked some bytes, and the replica (bg_pid[replica]) still runs. Prints what the
# library said in the service's and the replica's logs.
check_replay_kept_step() {
    local summary
    summary=$(jq -c '{takeover: (.takeover | {rebuilt, reset, reset_diverged}), output_check}' <<<"$1")
    check_json "the backup's status" "$summary" '.takeover.reset_diverged == 0' \
        "the backup reset connection(s) whose replica diverged although it replays the primary's log"
    check_json "the backup's status" "$summary" '.output_check.diverged_total == 0' \
        "the backup's output check found a replica connection that diverged although it replays the primary's log"
    check_json "the backup's status" "$summary" '.output_check.checked_bytes > 0' \
        "the backup checked no byte of the replica's output against the primary's digests"
    # A replica that stopped replaying (exit 86) or died is not the service any more.
    kill -0 "${bg_pid[replica]}" 2>/dev/null ||
        failures+=("the replica (pid ${bg_pid[replica]}) is gone after the takeover: $(tail -n 3 "$work/replica.log")")
    grep -h 'tcpfo-preload\|tcpfo-run' "$work/replica.log" "$work/service.log" 2>/dev/null |
        sed 's/^/  service or replica said: /' | head -n 20 || true
}

# expect_refusal EXIT WHAT NS ARGS...: failoverd ARGS in namespace NS must exit with
# EXIT (within 30 s: a hang fails too) and print exactly one line that mentions WHAT.
expect_refusal() {
    local want=$1 what=$2 ns=$3 rc=0 out
    shift 3
    out=$(timeout 30 ip netns exec "$ns" "$failoverd" "$@" 2>&1 >/dev/null) || rc=$?
    echo "  failoverd $* -> exit $rc: $out"
    [ "$rc" = "$want" ] || { echo "FAIL: expected exit $want, got $rc" >&2; return 1; }
    [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL: expected one line on stderr" >&2; return 1; }
    grep -q -- "$what" <<<"$out" || { echo "FAIL: the line does not mention '$what'" >&2; return 1; }
}

# Groups: a client started with `c_group NAME CONNS MODE ARGS...` keeps its progress
# in $work/NAME.progress. `read_progress NAME` puts its fields into the associative
# array `progress` without forking (the scenarios poll it every 10 ms);
# `read_progress NAME .at-crash` reads the copy crash_primary took just before the crash.
declare -A group_conns=() progress=()
c_group() {
    local name=$1 conns=$2 mode=$3
    shift 3
    group_conns[$name]=$conns
    # TCPFO_CLIENT_ARGS: extra options for every group, e.g. '--report-gaps-ms 200'.
    # shellcheck disable=SC2086
    c_bg "$name" "$stream_client" "$mode" --connect $vip:$port --conns "$conns" \
        --progress-file "$work/$name.progress" --crash-file "$work/crash.time" --label "$name" ${TCPFO_CLIENT_ARGS:-} "$@"
}
read_progress() {
    local file=$work/$1.progress${2:-} i
    local -a f=()
    progress=()
    [ -f "$file" ] && read -r -a f <"$file"
    for ((i = 0; i + 1 < ${#f[@]}; i += 2)); do progress[${f[i]}]=${f[i + 1]}; done
}

# group_under_way NAME MIN: succeeds when every connection of group NAME is open, none
# is over, and the slowest one has made MIN bytes of progress (verified; for uploads,
# acknowledged). Otherwise sets `why` to what is missing, and returns 2 when it can
# never succeed any more: a connection ended (passed or failed) before the crash.
group_under_way() {
    local name=$1 min=$2
    read_progress "$name"
    if [ -z "${progress[live]:-}" ]; then
        why="group $name: no progress yet"
        return 1
    fi
    if [ "${progress[finished]}" -gt 0 ]; then
        why="group $name: ${progress[finished]} of ${group_conns[$name]} connection(s) finished before the crash (${progress[done]} passed, ${progress[failed]} failed)"
        return 2
    fi
    if [ "${progress[live]}" -lt "${group_conns[$name]}" ]; then
        why="group $name: ${progress[live]} of ${group_conns[$name]} connection(s) open"
        return 1
    fi
    if [ "${progress[slowest]}" -lt "$min" ]; then
        why="group $name: its slowest connection is at ${progress[slowest]} bytes, short of $min"
        return 1
    fi
    why=
}

# took_over_early: says so when the backup took over although the primary was not
# crashed (yet): then the clients' failures are the consequence, not the cause.
took_over_early() {
    if log_has failoverd-backup 'taking over'; then
        echo "FAIL: the backup took over before any crash: $(grep -m1 'taking over' "$work/failoverd-backup.log")" >&2
    fi
}

# wait_groups_under_way SECONDS MIN NAME...: the crash condition of a scenario with
# several groups: every group under way at once (group_under_way). Fails at once,
# naming the group, when a connection ends first; after SECONDS names each group
# still short. Prints each group's progress when it succeeds.
wait_groups_under_way() {
    local seconds=$1 min=$2 name rc deadline polls=0
    local -a short
    shift 2
    deadline=$((${EPOCHREALTIME/./} + seconds * 1000000))
    while :; do
        # A backup that takes over with no crash leaves two nodes answering for the
        # VIP and connections that may never get under way: say so at once, not after
        # SECONDS (looked at twice a second, a grep is a fork).
        if [ $((polls++ % 50)) = 0 ] && log_has failoverd-backup 'taking over'; then
            took_over_early
            return 1
        fi
        short=()
        for name in "$@"; do
            rc=0
            group_under_way "$name" "$min" || rc=$?
            if [ $rc = 2 ]; then
                echo "FAIL: $why" >&2
                took_over_early
                return 1
            fi
            [ $rc = 0 ] || short+=("$why")
        done
        [ ${#short[@]} -gt 0 ] || break
        if [ "${EPOCHREALTIME/./}" -ge $deadline ]; then
            printf 'FAIL: after %ss not every group was under way:\n' "$seconds" >&2
            printf '  %s\n' "${short[@]}" >&2
            took_over_early
            return 1
        fi
        nap 0.01
    done
    for name in "$@"; do echo "  $name under way: $(cat "$work/$name.progress")"; done
}

# groups_at_crash NAME...: after crash_primary, checks each group's last progress
# before the crash (crash_primary keeps a copy): a connection that was over by then
# was not live at the crash, which is what a low rebuilt count means.
groups_at_crash() {
    local name bad=0
    for name in "$@"; do
        read_progress "$name" .at-crash
        if [ "${progress[finished]:-0}" -gt 0 ] || [ "${progress[live]:-0}" -lt "${group_conns[$name]}" ]; then
            echo "FAIL: group $name at the crash: ${progress[live]:-?} of ${group_conns[$name]} connection(s) live, ${progress[finished]:-?} finished" >&2
            bad=1
        fi
    done
    [ $bad = 0 ]
}

# start_many_groups: the 100-connection mix of failover_many and plain_many: 25 echo,
# 25 download, 25 upload, 25 half-close, each connection its own pattern seed, 4 MiB
# at 1 MB/s, holding at 3 MiB until $work/resume exists.
many_groups=(many-echo many-down many-up many-half)
# How far along every group's slowest connection must be before the crash (or the mark).
many_under_way=${TCPFO_MANY_UNDER_WAY:-$((256 << 10))}
start_many_groups() {
    local hold=(--bytes 4M --rate 1 --pause-at 3M --resume-file "$work/resume" --timeout-s 120)
    c_group many-echo 25 echo --seed 100 "${hold[@]}"
    c_group many-down 25 download --seed 200 "${hold[@]}"
    c_group many-up 25 upload --seed 300 "${hold[@]}"
    c_group many-half 25 half-close --seed 400 "${hold[@]}"
}

start_services() {
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    b_bg replica "$echo_service" --listen 0.0.0.0:$port
    wait_services
}

# wait_services: the echo service listens on the primary, the replica on the backup.
wait_services() {
    wait_until 30 "the echo service on the primary" listening "$ns_primary" $port
    wait_until 30 "the replica on the backup" listening "$ns_backup" $port
}

# start_services_under_tcpfo_run [--plain-replica]: the echo service under tcpfo-run on
# both nodes, the same command on each (operations.md, "Running a service under
# tcpfo-run"), with the node's control socket, $work/NODE.sock (start_failoverd_on's):
# the primary's failoverd records it, the backup's replays the primary's log in it (the
# replica). --plain-replica: the replica runs without tcpfo-run (it replays nothing).
# Called before start_failoverd, it exercises "either start order": it returns once
# each tcpfo-run is waiting to try its socket again (asleep between its attempts:
# nothing listens there yet), and the service starts only once failoverd answered;
# call wait_services after start_failoverd. Logs: service.log, replica.log.
start_services_under_tcpfo_run() {
    local plain_replica=
    [ "${1:-}" != --plain-replica ] || plain_replica=1
    [ -x "$tcpfo_run" ] || { echo "FAIL: $tcpfo_run is missing: run scripts/build.sh first" >&2; return 1; }
    # `ip netns exec` execs the command: bg_pid is tcpfo-run's, then the service's.
    p_bg service "$tcpfo_run" --control "$work/primary.sock" --wait-s 60 -- "$echo_service" --listen 0.0.0.0:$port
    if [ -n "$plain_replica" ]; then
        b_bg replica "$echo_service" --listen 0.0.0.0:$port
        wait_until 30 "the replica on the backup" listening "$ns_backup" $port
    else
        b_bg replica "$tcpfo_run" --control "$work/backup.sock" --wait-s 60 -- "$echo_service" --listen 0.0.0.0:$port
        wait_retrying_for_daemon replica
    fi
    wait_retrying_for_daemon service
}

# wait_retrying_for_daemon NAME: waits (30 s at most) until the process bg_pid[NAME]
# sleeps, as tcpfo-run does between two attempts to reach its failoverd; fails at once,
# with its log, if it ends.
wait_retrying_for_daemon() {
    local name=$1 pid=${bg_pid[$1]} wchan deadline
    deadline=$((${EPOCHREALTIME/./} + 30 * 1000000))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "FAIL: $name (pid $pid) ended while it should wait for failoverd: $(cat "$work/$name.log")" >&2
            return 1
        fi
        wchan=
        read -r wchan <"/proc/$pid/wchan" 2>/dev/null || true
        [[ $wchan != *nanosleep* ]] || return 0
        if [ "${EPOCHREALTIME/./}" -ge $deadline ]; then
            echo "FAIL: timed out after 30s waiting for $name (pid $pid) to sleep between attempts to reach" \
                 "failoverd (it waits in '${wchan:-?}')" >&2
            return 1
        fi
        nap 0.01
    done
}

# start_failoverd_on NODE [--nofile N] [ARGS...]: failoverd with the topology's
# command line for NODE (primary or backup), in NODE's namespace in the background:
# log $work/failoverd-NODE.log, PID bg_pid[failoverd-NODE], control socket
# $work/NODE.sock (node_status). ARGS are added to its command line; --nofile N runs
# it under an open-file limit of N (soft and hard). It waits for nothing.
# failoverd_style=symmetric: the node is described with --id/--node instead of the
# two-node shorthand (--role/--listen/--peer): the primary is node 1, the backup node 2,
# and node 1 starts as the primary (equal priorities: the lowest id); if
# $work/NODE.toml exists, NODE gets `--config $work/NODE.toml` instead of those flags.
failoverd_style=role
start_failoverd_on() {
    local node=$1 self peer id
    shift
    local -a limit=() role_args=() node_args
    if [ "${1:-}" = --nofile ]; then
        limit=(prlimit "--nofile=$2:$2")
        shift 2
    fi
    case $node in
        primary) self=$primary_ip peer=$backup_ip id=1 ;;
        backup) self=$backup_ip peer=$primary_ip id=2 role_args=(--replica "127.0.0.1:$port") ;;
        third) self=$witness_ip id=3 ;;
        fourth) self=$fourth_ip id=4 ;;
        *) echo "start_failoverd_on: no node '$node' (primary, backup, third or fourth)" >&2; return 2 ;;
    esac
    if [ "$failoverd_style" = three ]; then
        # Three data nodes (the witness namespace holds the third): no witness, a
        # majority of two; equal priorities, so node 1 (primary) serves first. Every
        # node has a replica, since any of them may follow. With with_fourth=1 a fourth
        # data node (192.0.2.13) joins them: a majority of three.
        node_args=(--id $id --node 1=$primary_ip:$replication_port --node 2=$backup_ip:$replication_port
                   --node 3=$witness_ip:$replication_port ${with_fourth:+--node 4=$fourth_ip:$replication_port}
                   --vip $vip/24 --dev eth0 --port $port --replica "127.0.0.1:$port" --lease-ms "$lease_ms")
    elif [ "$failoverd_style" = symmetric ] && [ -e "$work/$node.toml" ]; then
        node_args=(--config "$work/$node.toml")
        # A file without a top-level `id` (before its first table) leaves it to the
        # command line.
        awk '/^\[/ { exit } /^id *=/ { found = 1 } END { exit !found }' "$work/$node.toml" ||
            node_args+=(--id $id)
    elif [ "$failoverd_style" = symmetric ] || [ -n "$with_witness" ]; then
        node_args=(--id $id --node 1=$primary_ip:$replication_port --node 2=$backup_ip:$replication_port
                   --vip $vip/24 --dev eth0 --port $port "${role_args[@]}")
        # Two nodes need a witness, or say that they run without one.
        if [ -n "$with_witness" ]; then
            node_args+=(--node 3=$witness_ip:$replication_port --witness-id 3 --lease-ms "$lease_ms")
        else
            node_args+=(--two-node)
        fi
    else
        node_args=(--role "$node" --vip $vip/24 --dev eth0 --port $port
                   --listen $self:$replication_port --peer $peer:$replication_port "${role_args[@]}")
    fi
    in_bg "$node" "failoverd-$node" "${limit[@]}" "$failoverd" "${node_args[@]}" --control "$work/$node.sock" "$@"
}

# start_failoverd [--backup-nofile N]: the backup listens for the replication stream;
# the primary connects to it, claims the VIP and attaches BPF. Both report readiness
# with --ready-file. --backup-nofile N: the backup runs under an open-file limit of N.
start_failoverd() {
    local -a backup_limit=()
    while [ $# -gt 0 ]; do
        case $1 in
            --backup-nofile) backup_limit=(--nofile "$2"); shift 2 ;;
            *) echo "start_failoverd: unknown option '$1'" >&2; return 2 ;;
        esac
    done
    # With a witness, it runs first: the primary claims the VIP once it holds a lease.
    [ -z "$with_witness" ] || start_witness
    # TCPFO_DAEMON_ARGS: extra words for both daemons; TCPFO_BACKUP_ARGS: for the
    # backup only (both split on spaces).
    # shellcheck disable=SC2086
    start_failoverd_on backup "${backup_limit[@]}" --ready-file "$work/backup.ready" ${TCPFO_DAEMON_ARGS:-} ${TCPFO_BACKUP_ARGS:-}
    wait_until 30 "failoverd on the backup listening on :$replication_port" \
        listening "$ns_backup" $replication_port
    # shellcheck disable=SC2086
    start_failoverd_on primary --ready-file "$work/primary.ready" ${TCPFO_DAEMON_ARGS:-}
    wait_until 30 "failoverd ready on the primary" test -e "$work/primary.ready"
    wait_until 30 "failoverd ready on the backup" test -e "$work/backup.ready"
    p ip -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: the primary does not hold $vip" >&2; return 1; }
}

# start_witness: `failoverd --witness` in the witness namespace (node 3 of the three),
# control socket $work/witness.sock; waits until it answers its status.
start_witness() {
    # shellcheck disable=SC2086
    in_bg witness failoverd-witness "$failoverd" --witness --id 3 --node 1=$primary_ip:$replication_port \
        --node 2=$backup_ip:$replication_port --node 3=$witness_ip:$replication_port \
        --control "$work/witness.sock" --lease-ms "$lease_ms" ${TCPFO_WITNESS_ARGS:-}
    wait_until 30 "the witness to answer its status" witness_answers
}
witness_answers() { node_status witness >/dev/null 2>&1; }

# mac_of NODE: the MAC address of NODE's eth0.
mac_of() {
    local ns
    case $1 in primary) ns=$ns_primary ;; backup) ns=$ns_backup ;; witness | third) ns=$ns_witness ;; fourth) ns=$ns_fourth ;;
        client) ns=$ns_client ;; esac
    ip -n "$ns" -o link show eth0 | awk '{ for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1) }'
}

# cut_link NODE_A NODE_B / heal_link NODE_A NODE_B: a partition between two nodes while
# both still reach everyone else. Each is told a MAC nobody has for the other's address
# (a permanent neighbour entry, which no ARP overrides): their frames to each other
# cross the bridge and are dropped by every receiver, silently, as on a broken path.
# (This host's kernel has neither netfilter nor tc's u32 or flower.)
# Nodes: primary, backup, witness (or third: the third data node lives there), fourth.
node_ip() { case $1 in primary) echo $primary_ip ;; backup) echo $backup_ip ;; witness | third) echo $witness_ip ;; fourth) echo $fourth_ip ;; esac; }
node_ns() { case $1 in primary) echo "$ns_primary" ;; backup) echo "$ns_backup" ;; witness | third) echo "$ns_witness" ;; fourth) echo "$ns_fourth" ;; esac; }
cut_link() {
    say "$1" "ip neigh replace $(node_ip "$2") lladdr 02:00:00:00:de:ad nud permanent dev eth0"
    ip -n "$(node_ns "$1")" neigh replace "$(node_ip "$2")" lladdr 02:00:00:00:de:ad nud permanent dev eth0
    say "$2" "ip neigh replace $(node_ip "$1") lladdr 02:00:00:00:de:ad nud permanent dev eth0"
    ip -n "$(node_ns "$2")" neigh replace "$(node_ip "$1")" lladdr 02:00:00:00:de:ad nud permanent dev eth0
}
heal_link() {
    say "$1" "ip neigh del $(node_ip "$2") dev eth0"
    ip -n "$(node_ns "$1")" neigh del "$(node_ip "$2")" dev eth0
    say "$2" "ip neigh del $(node_ip "$1") dev eth0"
    ip -n "$(node_ns "$2")" neigh del "$(node_ip "$1")" dev eth0
}

# start_client_capture: tcpdump on the client's link (no promiscuous mode: only what
# reaches the client), every segment from VIP:PORT with its Ethernet header, into
# $work/client.pcap.
start_client_capture() {
    c_bg capture tcpdump -p -U -n -i eth0 -s 96 -w "$work/client.pcap" "tcp and src host $vip and src port $port"
    wait_until 10 "tcpdump on the client's link" test -s "$work/client.pcap"
}

# speaker_nodes: the nodes whose MAC check_one_speaker knows: primary and backup, the
# witness namespace's ("third": with three data nodes it holds one; a witness never
# sends from the VIP, so a segment from it is an offence either way), and the fourth's.
speaker_nodes() { echo "primary backup${with_witness:+ third}${with_fourth:+ fourth}"; }

# check_one_speaker [AFTER_US [NODE]]: stops the capture, then, per connection, the
# source MAC of every segment from VIP:PORT: one node at a time, each succeeded by
# another for good (with two nodes: the primary's, then after a takeover the
# backup's, never interleaved), never a MAC of no node (invariant 3: one speaker at a
# time). AFTER_US (EPOCHREALTIME in µs): not a segment from NODE (default the primary)
# after it. Prints a line per connection (each speaker in turn: segments, first and
# last time); fails naming the first offences.
check_one_speaker() {
    local after_us=${1:-0} late=${2:-primary} node macs=
    stop_client_capture
    for node in $(speaker_nodes); do macs+="$node=$(mac_of "$node") "; done
    tcpdump -r "$work/client.pcap" -e -nn -tt 2>/dev/null | awk -v macs="$macs" -v after="$after_us" -v late="$late" '
        BEGIN { n = split(macs, m, " "); for (i = 1; i <= n; i++) { split(m[i], kv, "="); name[kv[2]] = kv[1] } }
        {
            t = $1; mac = $2
            if (!match($0, / > [0-9.]+: /)) next
            conn = substr($0, RSTART + 3, RLENGTH - 5)
            if (!(mac in name)) { bad = bad sprintf("%s: a segment from %s (no node) at %s\n", conn, mac, t); next }
            who = name[mac]
            conns[conn] = 1
            if (cur[conn] != who) {
                if ((conn, who) in first)
                    bad = bad sprintf("%s: the %s sent at %s after the %s had (at %s)\n", conn, who, t, cur[conn], first[conn, cur[conn]])
                else {
                    first[conn, who] = t
                    order[conn] = order[conn] " " who
                }
                cur[conn] = who
            }
            n_seg[conn, who]++; last[conn, who] = t
            if (who == late && after > 0 && t * 1000000 > after) bad = bad sprintf("%s: the %s sent at %s, after %.6f\n", conn, who, t, after / 1000000)
        }
        END {
            for (c in conns) {
                line = "  " c ":"
                k = split(order[c], o, " ")
                for (i = 1; i <= k; i++) line = line sprintf("%s %d segment(s) from the %s (%s to %s)", i > 1 ? "," : "", n_seg[c, o[i]], o[i], first[c, o[i]], last[c, o[i]])
                print line
            }
            if (bad != "") { printf "FAIL: two speakers:\n%s", substr(bad, 1, 2000) > "/dev/stderr"; exit 1 }
        }'
}

# stop_client_capture: ends start_client_capture's tcpdump (once; later calls do
# nothing), so that $work/client.pcap is complete.
stop_client_capture() {
    [ -n "${bg_pid[capture]:-}" ] || return 0
    kill -INT "${bg_pid[capture]}" 2>/dev/null || true
    wait "${bg_pid[capture]}" 2>/dev/null || true
    unset "bg_pid[capture]"
}

# segments_between FROM_US TO_US: after stop_client_capture, prints each segment from
# VIP:PORT the client's link saw between the two times (EPOCHREALTIME in µs), with its
# source MAC: nothing when nobody spoke.
segments_between() {
    tcpdump -r "$work/client.pcap" -e -nn -tt 2>/dev/null |
        awk -v from="$1" -v to="$2" '$1 * 1000000 > from && $1 * 1000000 < to'
}

# vip_holders: the nodes (primary, backup, third, fourth) that hold the VIP now,
# space-separated.
vip_holders() {
    local node out=
    for node in primary backup third ${with_fourth:+fourth}; do
        ip -n "$(node_ns "$node")" -4 -o addr show dev eth0 2>/dev/null | grep -q " $vip/" && out+="$node "
    done
    echo "${out% }"
}

# snapshot_progress: the groups' progress as it stood just before the crash (or the
# handover), for groups_at_crash; bash builtins only: on a loaded machine every fork
# delays the crash.
snapshot_progress() {
    local f line
    for f in "$work"/*.progress; do
        [ -f "$f" ] && read -r line <"$f" && printf '%s\n' "$line" >"$f.at-crash"
    done
    return 0
}

# mark_crash USEC: the moment the failure began (EPOCHREALTIME in µs, taken just before
# the command that causes it): the clients' crash file (their stall is the gap spanning
# it) and what wait_takeover checks the takeover against.
mark_crash() {
    crash_began_us=$1
    crash_ns=${1}000
    echo "$crash_ns" >"$work/crash.time"
}

# A crash, not a stop: the link goes first (as with a power loss, nothing more leaves
# the node), then every process in the namespace dies by SIGKILL.
crash_primary() {
    echo "=== hard crash of the primary"
    local before after
    snapshot_progress
    # The crash is the moment the link goes: a client's stall is the gap spanning it.
    # The time is taken when the command returns (on a busy machine starting it can
    # take a few hundred ms): the link was cut at the latest then.
    say primary "ip link set eth0 down"
    before=${EPOCHREALTIME/./}
    ip -n "$ns_primary" link set eth0 down
    after=${EPOCHREALTIME/./}
    crash_ns=${after}000
    crash_began_us=$before
    echo "$crash_ns" >"$work/crash.time"
    [ $((after - before)) -lt 20000 ] || echo "  (the link cut command took $(((after - before) / 1000)) ms)"
    local pids
    pids=$(ip netns pids "$ns_primary" | tr '\n' ' ')
    say primary "kill -9 $pids"
    # Some may have died meanwhile (a container's init takes its processes with it).
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    wait_until 30 "every process in the primary to die" no_process_in "$ns_primary"
}

# A planned handover, not a crash: `failoverctl handover` on the primary, which freezes
# its egress, sends the backup what it has, removes the VIP and sends HANDOVER; the
# backup takes over at once. Its time stands in for the crash's (wait_takeover,
# crash_stall_ms): taken before the command starts, since the primary falls silent
# somewhere inside it, and the client's stall is the longest gap within the half
# second after that time. The answer is kept in $work/handover.out.
handover_primary() {
    echo "=== planned handover of the primary"
    local before after
    snapshot_progress
    say primary "failoverctl handover"
    before=${EPOCHREALTIME/./}
    "$failoverctl" --control "$work/primary.sock" handover >"$work/handover.out" 2>&1 ||
        { echo "FAIL: failoverctl handover: $(cat "$work/handover.out")" >&2; return 1; }
    after=${EPOCHREALTIME/./}
    mark_crash "$before"
    echo "  failoverctl handover -> $(cat "$work/handover.out") ($(((after - before) / 1000)) ms)"
}

# primary_failoverd_pid: the pid of failoverd in the primary's namespace.
primary_failoverd_pid() { ip netns pids "$ns_primary" | xargs ps -o pid=,comm= -p | awk '$2 == "failoverd" {print $1}'; }

# sigterm_handover_primary [PID]: handover_primary by SIGTERM to the primary's
# failoverd, which hands over to its ready backup on the way out; waits for it to exit.
# PID: looked up beforehand (the lookup's forks compete with the client for the CPU).
sigterm_handover_primary() {
    echo "=== SIGTERM to the primary's failoverd (hands over on the way out)"
    local before pid=${1:-}
    [ -n "$pid" ] || pid=$(primary_failoverd_pid)
    snapshot_progress
    say primary "kill -TERM $pid"
    before=${EPOCHREALTIME/./}
    kill -TERM "$pid"
    mark_crash "$before"
    wait_until 30 "failoverd on the primary to exit" sh -c "! kill -0 $pid 2>/dev/null"
    grep -o 'handed over to .*' "$work/failoverd-primary.log" | sed 's/^/  /' ||
        { echo "FAIL: the primary's failoverd did not say it handed over" >&2; return 1; }
}

# wait_takeover N [R]: the backup must report that it rebuilt N connections (every one
# live at the crash) and reset R (default none); a takeover that rebuilt nothing proves
# nothing. R = any: N connections rebuilt and reset together, however they split (the
# scenario learns the split from the status: failover_diverge.sh).
wait_takeover() {
    local expected=${1:?wait_takeover needs the number of connections to rebuild} resets=${2:-0} st
    local role rebuilt reset began finished steps summary want
    # Asked every 50 ms, not 10: each question is a fork and a status the busy backup
    # must build while it takes over, and the figures come from its own stamps.
    wait_until --every 0.05 30 "the backup's status to report a finished takeover" takeover_finished
    st=$(node_status backup)
    # One jq for every field: this runs while the clients are still measuring their
    # stalls, on the same cores.
    IFS=$'\t' read -r role rebuilt reset began finished steps < <(jq -r '[.role, .takeover.rebuilt, .takeover.reset,
        .takeover.started_us, .takeover.finished_us,
        (.takeover | "VIP claimed at \(.claimed_ms), positions at \(.learned_ms), rebuilt at \(.rebuilt_ms), serving at \(.serving_ms) ms; \(.prompted) prompted")]
        | map(tostring) | join("\t")' <<<"$st")
    # Judged here rather than before the crash: asking then would delay the crash.
    # Before the link-cut command even started: surely early (the cut itself lies
    # somewhere before crash_ns, which is taken when the command returns).
    if [ "$began" -lt "$crash_began_us" ]; then
        echo "FAIL: the backup took over $(( (crash_began_us - began) / 1000 )) ms before the primary crashed:" \
             "$(jq -c .takeover <<<"$st")" >&2
        return 1
    fi
    if [ "$resets" = any ]; then
        # Both counts are there or neither (a takeover that did not succeed): null then.
        summary="$role $(( ${rebuilt/null/0} + ${reset/null/0} ))"
        [ "$rebuilt" != null ] || summary="$role null"
        want="taken-over-primary $expected"
    else
        summary="$role $rebuilt $reset"
        want="taken-over-primary $expected $resets"
    fi
    if [ "$summary" != "$want" ]; then
        if [ "$resets" = any ]; then
            echo "FAIL: expected $expected connection(s) rebuilt or reset; the backup says:" \
                 "$(jq -c '{role, takeover}' <<<"$st")" >&2
        else
            echo "FAIL: expected $expected connection(s) rebuilt and $resets reset; the backup says:" \
                 "$(jq -c '{role, takeover}' <<<"$st")" >&2
        fi
        return 1
    fi
    # The backup's own clock stamps (same host, same clock as the crash time).
    echo "  takeover began $(( (began - crash_ns / 1000) / 1000 )) ms and completed" \
         "$(( (finished - crash_ns / 1000) / 1000 )) ms after the crash ($steps)"
}

# stream_through_crash: one connection streams 64 MiB each way (echo) through a hard
# crash of the primary at about halfway; the client verifies every byte in order and
# must see no reset (failover_stream.sh and its variants). Daemons already started.
stream_through_crash() {
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --rate 40 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream
    wait_until 60 "32 MiB echoed (halfway)" progress_at_least "$work/stream.progress" verified $((32 << 20))
    crash_primary
    wait_takeover 1
    finish_client stream
}

# client_field NAME FIELD: FIELD's value (ok, failed, resets, corrupt, ...) in the
# summary line of client NAME; empty when it printed none.
client_field() {
    awk -v f="$2=" '$1 == "stream-client" { for (i = 2; i <= NF; i++) if (index($i, f) == 1) v = substr($i, length(f) + 1) }
                    END { print v }' "$work/$1.log"
}

# failed_by_resets_only NAME: client NAME's failures were resets and nothing else:
# every other connection ended with every byte verified.
failed_by_resets_only() {
    local name=$1 conns ok failed resets
    conns=$(client_field "$name" conns) ok=$(client_field "$name" ok)
    failed=$(client_field "$name" failed) resets=$(client_field "$name" resets)
    [ -n "$conns" ] && [ "$failed" = "$resets" ] && [ $((ok + failed)) = "$conns" ] &&
        [ "$(client_field "$name" corrupt)" = 0 ] && [ "$(client_field "$name" early_eofs)" = 0 ] &&
        [ "$(client_field "$name" timeouts)" = 0 ]
}

# finish_client NAME [--allow-resets]: wait for a client started with c_bg, show its
# summary, fail if it failed. Its --timeout-s bounds the wait. --allow-resets: a client
# that failed by resets only passes too (for a scenario that cannot know beforehand how
# many the backup resets; it compares the number, client_field NAME resets, itself).
finish_client() {
    local name=$1 allow_resets='' rc=0 stall
    [ "${2:-}" != --allow-resets ] || allow_resets=1
    wait "${bg_pid[$name]}" || rc=$?
    unset "bg_pid[$name]"
    cat "$work/$name.log"
    # The stall that matters is the gap spanning the crash (--crash-file); without one
    # (a client that ran after the crash) the longest gap of the run.
    stall=$(grep -o 'crash_stall_ms=[0-9.]*' "$work/$name.log" | tail -1 | cut -d= -f2 || true)
    [ -n "$stall" ] || stall=$(grep -o 'max_stall_ms=[0-9.]*' "$work/$name.log" | tail -1 | cut -d= -f2)
    if [ $rc = 1 ] && [ -n "$allow_resets" ] && failed_by_resets_only "$name"; then
        echo "  client $name: $(client_field "$name" resets) connection(s) reset, every other one verified"
    elif [ $rc -ne 0 ]; then
        echo "FAIL: client $name exited with $rc" >&2
        return 1
    fi
    echo "  client $name stall: ${stall:-?} ms"
    stalls+=("$name=${stall:-?}")
}

dump_logs() {
    local f
    for f in "$work"/*.log; do
        [ -f "$f" ] || continue
        echo "----- $(basename "$f") (first 10 and last 25 lines)"
        if [ "$(wc -l <"$f")" -gt 35 ]; then
            head -n 10 "$f"
            # The lines that explain a takeover, wherever they are.
            sed -n '11,$p' "$f" | head -n -25 | grep -E 'taking over|dead|lost|broke|takeover complete|error' | head -n 10 || true
            echo "  ..."
        fi
        tail -n 25 "$f"
    done
}

setup_run() {
    suffix=$$-$1
    work=$(mktemp -d "/tmp/tcpfo-netns-$suffix.XXXXXX")
    mkfifo "$work/nap"
    exec {nap_fd}<>"$work/nap"
    topo_up "$suffix" "${2:-}" "${with_witness:+witness}" "${with_fourth:+fourth}"
    # TCPFO_CAPTURE=DIR keeps a packet capture of the client's link per run (debugging).
    if [ -n "${TCPFO_CAPTURE:-}" ]; then
        mkdir -p "$TCPFO_CAPTURE"
        c_bg capture tcpdump -U -n -i eth0 -s 128 -w "$TCPFO_CAPTURE/$suffix.pcap" tcp
        wait_until 5 "tcpdump on the client's link" test -s "$TCPFO_CAPTURE/$suffix.pcap"
    fi
}

teardown_run() {
    local name
    # TCPFO_SHOW_LOGS=1 prints every process's log of a passing run too.
    [ -n "${TCPFO_SHOW_LOGS:-}" ] && [ -n "$work" ] && dump_logs
    for name in "${!bg_pid[@]}"; do kill -9 "${bg_pid[$name]}" 2>/dev/null || true; done
    for name in "${!bg_pid[@]}"; do wait "${bg_pid[$name]}" 2>/dev/null || true; done
    bg_pid=()
    [ -n "$suffix" ] && topo_down "$suffix"
    # TCPFO_KEEP_WORK=DIR keeps each run's logs and files there (debugging).
    if [ -n "${TCPFO_KEEP_WORK:-}" ] && [ -n "$work" ]; then
        mkdir -p "$TCPFO_KEEP_WORK" && cp -r "$work" "$TCPFO_KEEP_WORK/$suffix"
    fi
    if [ -n "$nap_fd" ]; then exec {nap_fd}>&-; nap_fd=; fi
    [ -n "$work" ] && rm -rf "$work"
    work=
    suffix=
}

on_exit() {
    local rc=$?
    trap - EXIT
    # Cleaning up must never stop half-way: no errexit from here on.
    set +e
    if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "$work" ]; then
        echo "=== FAILED (exit $rc); logs:" >&2
        dump_logs >&2
    fi
    TOPO_QUIET=1 teardown_run
    exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# run_scenario NAME [VIP_NODE]: runs `scenario` TCPFO_REPEAT times (default 1), each
# on a fresh topology. VIP_NODE (primary) adds the VIP by hand, for plain-TCP runs.
run_scenario() {
    local name=$1 vip_node=${2:-} runs=${TCPFO_REPEAT:-1} i
    [[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "TCPFO_REPEAT must be a positive integer, got '$runs'" >&2; exit 2; }
    for ((i = 1; i <= runs; i++)); do
        echo "=== $name: run $i of $runs"
        setup_run "$i" "$vip_node"
        scenario
        teardown_run
    done
    echo "=== $name: PASS ($runs run(s)); client stalls in ms: ${stalls[*]:-none}"
}

# no_socket_for_ports NS FILE: no TCP socket in NS, in any state, whose peer is the
# client at one of the ports listed in FILE. Prints the offenders. (The peer address
# matters: the backup's own loopback connections to the replica use ephemeral ports
# that may equal a client's port.)
no_socket_for_ports() {
    local ns=$1 file=$2 client_port found=0
    [ -s "$file" ] || { echo "FAIL: no client ports in $file" >&2; return 1; }
    while read -r client_port; do
        if ip netns exec "$ns" ss -Htan "( dst $client_ip and dport = :$client_port )" | grep .; then found=1; fi
    done <"$file"
    [ $found = 0 ]
}

# has_socket_for_ports NS FILE: every client port in FILE has an established socket in
# NS (the positive control for no_socket_for_ports).
has_socket_for_ports() {
    local ns=$1 file=$2 client_port
    [ -s "$file" ] || return 1
    while read -r client_port; do
        ip netns exec "$ns" ss -Htn state established "( dst $client_ip and dport = :$client_port )" | grep -q . || return 1
    done <"$file"
}
