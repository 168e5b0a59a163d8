#!/usr/bin/env bash
# check_systemd_two_node.sh BUILD_DIR: the .deb installed and run the way a new user
# does it (docs/operations.md, "A two-node set-up under systemd"), on two Debian 12
# machines with systemd as PID 1: containers (`systemd-nspawn --boot`), each in a
# node namespace of the netns tests' topology.
#
#   1. cpack makes the .deb; each container gets it by `apt-get install ./tcpfo_*.deb`
#      (its dependencies come installed in the cached root file system: no download
#      at test time), then /etc/tcpfo/failoverd.toml from the packaged example with its
#      own `id` and `key_file` uncommented (one key from `failoverctl genkey` on both),
#      and an echo service as the protected service.
#   2. Each container boots; `systemctl enable --now failoverd` returns only after
#      READY=1 (Type=notify); node 1 (priority 200) is the primary with its backup live.
#   3. A client streams through the VIP; node 1 crashes hard (its link cut, then every
#      process of its container SIGKILLed); node 2's unit, still active, took over,
#      and the client's stream ends with every byte verified.
#
# The root file system (Debian 12 minbase with systemd and the package's
# dependencies) is made once by mmdebstrap from Debian's archive and kept in
# BUILD_DIR/vm-cache (~230 MB, ~3 min).
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
TCPFO_BUILD_DIR=$(cd "$1" && pwd)
export TCPFO_BUILD_DIR
. "$(dirname "$0")/../tests/netns/lib.sh"
require_failoverd
for tool in systemd-nspawn mmdebstrap cpack dpkg-deb nsenter; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

declare -A root=() init_pid=() nspawn_pid=()
key_file=

# node_status NODE: `failoverctl status` as the container itself runs it (its own
# failoverctl, its default control socket). Replaces lib.sh's, which asks a socket
# in the run's directory.
node_status() { in_node "$1" failoverctl status; }
in_node() { local node=$1; shift; nsenter -t "${init_pid[$node]}" -m -u -i -p -n -- "$@"; }

# The package's dependencies, by name (first alternative, no version): installed in
# the cached root file system, so that installing the .deb needs no download.
package_dependencies() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep . | sort -u |
        paste -sd, -
}

# cached_root_tarball DEB: prints the path of a Debian 12 root file system with
# systemd and DEB's dependencies, made on first use.
cached_root_tarball() {
    local include cache key
    include="systemd,systemd-sysv,dbus,iproute2,$(package_dependencies "$1")"
    key=$(printf '%s' "$include" | sha256sum | cut -c1-12)
    cache=$TCPFO_BUILD_DIR/vm-cache/debian12-systemd-$key.tar
    if [ ! -s "$cache" ]; then
        mkdir -p "$(dirname "$cache")"
        echo "=== making $(basename "$cache") (mmdebstrap, with $include)" >&2
        # mmdebstrap tells the output's format by its name: .tar.
        mmdebstrap --quiet --variant=minbase --include="$include" bookworm "${cache%.tar}.part.tar" \
            http://deb.debian.org/debian >&2 || { rm -rf "${cache%.tar}.part.tar"; return 1; }
        mv "${cache%.tar}.part.tar" "$cache"
    fi
    echo "$cache"
}

# prepare_node NODE ID TARBALL DEB: unpacks a root file system, installs the .deb as
# a user would, and writes the node's config and its service's unit.
prepare_node() {
    local node=$1 id=$2 tarball=$3 deb=$4 dir=$work/$1-root
    mkdir -p "$dir"
    tar -xf "$tarball" -C "$dir"
    # Not /tmp: nspawn mounts a tmpfs there.
    cp "$deb" "$dir/root/"
    echo "tcpfo-$node" >"$dir/etc/hostname"
    # Not booted: one command in the container, as in a chroot.
    systemd-nspawn -q -D "$dir" --register=no --keep-unit --pipe -- \
        apt-get install -y -q "/root/$(basename "$deb")" >"$work/$node-apt.log" 2>&1 ||
        { echo "FAIL: apt-get install of the .deb on $node: $(tail -3 "$work/$node-apt.log")" >&2; return 1; }
    mkdir -p "$dir/etc/tcpfo" "$dir/opt/tcpfo-test"
    # The top-level `id` only (the first one): the [[node]] tables name every node.
    # And the peers' key: made on the first node, copied to the next.
    sed -e "0,/^id = 1 *$/s//id = $id/" -e 's/^# *\(key_file = "\/etc\/tcpfo\/key"\)/\1/' \
        "$dir/usr/share/doc/tcpfo/examples/failoverd.toml" >"$dir/etc/tcpfo/failoverd.toml"
    grep -q "^id = $id *\$" "$dir/etc/tcpfo/failoverd.toml" || { echo "FAIL: the example config has no 'id = 1' line" >&2; return 1; }
    grep -q '^key_file = "/etc/tcpfo/key"' "$dir/etc/tcpfo/failoverd.toml" ||
        { echo "FAIL: the example config has no key_file line to uncomment" >&2; return 1; }
    if [ -z "${key_file:-}" ]; then
        systemd-nspawn -q -D "$dir" --register=no --keep-unit --pipe -- failoverctl genkey /etc/tcpfo/key \
            >"$work/genkey.log" 2>&1 || { echo "FAIL: failoverctl genkey: $(cat "$work/genkey.log")" >&2; return 1; }
        key_file=$dir/etc/tcpfo/key
    else
        cp -p "$key_file" "$dir/etc/tcpfo/key"
    fi
    systemd-nspawn -q -D "$dir" --register=no --keep-unit --pipe -- failoverd --config-test /etc/tcpfo/failoverd.toml \
        >"$work/$node-config-test.log" 2>&1 || { echo "FAIL: --config-test on $node: $(cat "$work/$node-config-test.log")" >&2; return 1; }
    cp "$echo_service" "$dir/opt/tcpfo-test/"
    cat >"$dir/etc/systemd/system/tcpfo-echo.service" <<EOF
[Unit]
Description=the protected service (and, on a backup, its replica)
[Service]
ExecStart=/opt/tcpfo-test/tcpfo-echo-service --listen 0.0.0.0:$port
[Install]
WantedBy=multi-user.target
EOF
    # The service before failoverd, as an operator orders them: the primary's hooks
    # and the backup's replica feeds need it listening.
    mkdir -p "$dir/etc/systemd/system/failoverd.service.d"
    printf '[Unit]\nWants=tcpfo-echo.service\nAfter=tcpfo-echo.service\n' \
        >"$dir/etc/systemd/system/failoverd.service.d/echo.conf"
    root[$node]=$dir
}

# boot_node NODE NS: boots the container into the node's network namespace. The
# capabilities failoverd needs are kept (BPF, tc, raw sockets, real-time heartbeats),
# and bpf() is let through nspawn's system call filter.
boot_node() {
    local node=$1 ns=$2 pid
    say "$node" "systemd-nspawn --boot -D ${root[$node]}"
    systemd-nspawn -q -D "${root[$node]}" --register=no --keep-unit --boot \
        --network-namespace-path="/run/netns/$ns" \
        --capability=CAP_SYS_ADMIN,CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN,CAP_NET_RAW,CAP_SYS_NICE,CAP_IPC_LOCK \
        --system-call-filter='bpf perf_event_open' >"$work/$node-console.log" 2>&1 </dev/null &
    nspawn_pid[$node]=$!
    bg_pid[nspawn-$node]=$!
    wait_until 60 "$node's container to start" container_init "$node" "$ns"
    wait_until 120 "$node's systemd to finish booting" booted "$node"
}
container_init() {
    local pid
    pid=$(ip netns pids "$2" | xargs -r ps -o pid=,comm= -p | awk '$2 == "systemd" {print $1; exit}')
    [ -n "$pid" ] && init_pid[$1]=$pid
}
booted() { [[ $(in_node "$1" systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]; }
peer_live() { [ "$(node_status "$1" 2>/dev/null | jq -r '[.peers[]?.state] | join(",")')" = live ]; }

# Journals into the run's directory, so that a failure shows them (dump_logs).
collect_journals() {
    local node
    for node in "${!init_pid[@]}"; do
        in_node "$node" journalctl -q --no-pager -o short-monotonic >"$work/$node-journal.log" 2>&1 || true
    done
}
# Every container's processes die before lib.sh tears the namespaces down: an
# nspawn killed alone would leave its container running.
kill_containers() {
    local node
    for node in "${!init_pid[@]}"; do kill -9 "${init_pid[$node]}" 2>/dev/null || true; done
    for node in "${!nspawn_pid[@]}"; do wait "${nspawn_pid[$node]}" 2>/dev/null || true; done
    init_pid=()
}
# lib.sh's on_exit takes the exit status from $? (errexit holds in traps too: the
# status is handed over through `||`).
exit_with_containers() {
    local rc=$?
    set +e
    [ $rc = 0 ] || collect_journals
    kill_containers
    if [ $rc = 0 ]; then on_exit; else (exit $rc) || on_exit; fi
}
trap exit_with_containers EXIT

scenario() {
    local out deb tarball st
    out=$work/deb
    mkdir -p "$out"
    (cd "$out" && cpack -G DEB --config "$TCPFO_BUILD_DIR/CPackConfig.cmake" >cpack.log 2>&1) ||
        { echo "FAIL: cpack: $(tail -5 "$out/cpack.log")" >&2; return 1; }
    # The main package only: cpack also makes tcpfo-dkms_*_all.deb (the module's source).
    deb=$(ls "$out"/tcpfo_*_amd64.deb)
    tarball=$(cached_root_tarball "$deb")
    prepare_node primary 1 "$tarball" "$deb"
    prepare_node backup 2 "$tarball" "$deb"
    boot_node backup "$ns_backup"
    boot_node primary "$ns_primary"
    # As docs/operations.md says: the backup first, then the primary. `start` waits
    # for READY=1 (Type=notify).
    local node
    for node in backup primary; do
        say "$node" "systemctl enable --now failoverd"
        in_node $node systemctl enable --now tcpfo-echo.service failoverd.service >"$work/$node-enable.log" 2>&1 ||
            { echo "FAIL: systemctl enable --now failoverd on $node: $(tail -3 "$work/$node-enable.log")" >&2; return 1; }
        [ "$(in_node $node systemctl is-active failoverd)" = active ] ||
            { echo "FAIL: failoverd is not active on $node after its start returned" >&2; return 1; }
    done
    wait_until 30 "the primary's backup to be live" peer_live primary
    st=$(node_status primary)
    [ "$(jq -r .role <<<"$st")" = primary ] || { echo "FAIL: node 1 is not the primary: $st" >&2; return 1; }
    [ "$(jq -r .role <<<"$(node_status backup)")" = backup ] || { echo "FAIL: node 2 is not the backup" >&2; return 1; }
    p ip -4 -o addr show dev eth0 | grep -q " $vip/" || { echo "FAIL: node 1 does not hold $vip" >&2; return 1; }
    # What systemd was told (STATUS= from sd_notify), and the unit's sandbox around
    # the running daemon: no new privileges, a system call filter, a read-only system.
    in_node primary systemctl show -p StatusText --value failoverd | grep -q . ||
        { echo "FAIL: failoverd sent no STATUS= to systemd" >&2; return 1; }
    local main_pid proc_status
    main_pid=$(in_node primary systemctl show -p MainPID --value failoverd)
    proc_status=$(in_node primary cat "/proc/$main_pid/status")
    for line in $'NoNewPrivs:\t1' $'Seccomp:\t2'; do
        grep -q "^$line\$" <<<"$proc_status" || { echo "FAIL: failoverd under systemd lacks '$line'" >&2; return 1; }
    done
    # ProtectSystem=strict: its root file system is mounted read-only.
    in_node primary awk '$5 == "/" {print $6}' "/proc/$main_pid/mountinfo" | grep -q '^ro\b' ||
        { echo "FAIL: failoverd under systemd sees / writable (ProtectSystem=strict not applied)" >&2; return 1; }

    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 16M --rate 8 \
        --progress-file "$work/stream.progress" --timeout-s 90 --crash-file "$work/crash.time" --label stream
    wait_until 60 "4 MiB echoed" progress_at_least "$work/stream.progress" verified $((4 << 20))
    crash_primary
    unset 'init_pid[primary]'
    wait_takeover 1
    finish_client stream
    [ "$(in_node backup systemctl is-active failoverd)" = active ] ||
        { echo "FAIL: failoverd on node 2 is not active after the takeover" >&2; return 1; }
    in_node backup journalctl -q --no-pager -u failoverd -p info | grep -q "takeover complete" ||
        { echo "FAIL: node 2's journal has no 'takeover complete' line" >&2; return 1; }
    in_node backup journalctl -q --no-pager -u failoverd | grep -q "peers authenticated with /etc/tcpfo/key" ||
        { echo "FAIL: node 2's journal does not say its peers are authenticated" >&2; return 1; }
    echo "  node 2's unit: $(in_node backup systemctl show -p StatusText --value failoverd)"
    # A clean stop: SIGTERM without a backup stops as before (STOPPING=1, exit 0).
    in_node backup systemctl stop failoverd
    [ "$(in_node backup systemctl show -p Result --value failoverd)" = success ] ||
        { echo "FAIL: failoverd's stop on node 2 did not end in success" >&2; return 1; }
    kill_containers
}

run_scenario systemd_two_node
