#!/usr/bin/env bash
# Plain TCP, no failoverd: the VIP is added to the primary by hand. This checks the
# test tools themselves, on the same topology as the failover scenarios:
#
#   client 192.0.2.1 ──── br0 ──── primary 192.0.2.10 + VIP 192.0.2.100 (echo service :7000)
#                          └────── backup 192.0.2.11 (unused here)
#
# 1. every client mode passes on a healthy path (the same traffic as the failover
#    scenarios: 64 MiB each way, 100 mixed connections, idle connections, half-close);
# 2. the client notices when things go wrong: a SIGKILLed service (reset or early EOF)
#    and a hard crash of the primary with nobody to take over (timeout) make it fail.
. "$(dirname "$0")/lib.sh"

expect_client_failure() {  # NAME PATTERN: the client must exit 1 and say PATTERN
    local name=$1 pattern=$2 rc=0
    wait "${bg_pid[$name]}" || rc=$?
    unset "bg_pid[$name]"
    cat "$work/$name.log"
    [ $rc -eq 1 ] || { echo "FAIL: client $name should have failed with 1, exited $rc" >&2; return 1; }
    grep -Eq "$pattern" "$work/$name.log" || { echo "FAIL: client $name did not report /$pattern/" >&2; return 1; }
    echo "  client $name failed as it must: $(grep -Eo "$pattern" "$work/$name.log" | head -1)"
}

scenario() {
    p_bg service "$echo_service" --listen 0.0.0.0:$port
    wait_until 30 "the echo service on the primary" listening "$ns_primary" $port

    echo "=== one connection, 64 MiB each way"
    c_bg stream "$stream_client" echo --connect $vip:$port --bytes 64M --timeout-s 60 --label stream
    finish_client stream

    echo "=== 100 connections, 25 each of echo, download, upload and half-close"
    c_bg many-echo "$stream_client" echo --connect $vip:$port --conns 25 --bytes 1M --rate 2 --seed 100 --timeout-s 60 --label many-echo
    c_bg many-down "$stream_client" download --connect $vip:$port --conns 25 --bytes 1M --rate 2 --seed 200 --timeout-s 60 --label many-down
    c_bg many-up "$stream_client" upload --connect $vip:$port --conns 25 --bytes 1M --rate 2 --seed 300 --timeout-s 60 --label many-up
    c_bg many-half "$stream_client" half-close --connect $vip:$port --conns 25 --bytes 1M --rate 2 --seed 400 --timeout-s 60 --label many-half
    for n in many-echo many-down many-up many-half; do finish_client $n; done

    echo "=== idle connections: pause, then resume"
    c_bg idle "$stream_client" echo --connect $vip:$port --conns 10 --bytes 2M --pause-at 1M \
        --resume-file "$work/resume" --progress-file "$work/idle.progress" --timeout-s 60 --label idle
    wait_until 20 "all idle connections paused" progress_at_least "$work/idle.progress" paused 1
    touch "$work/resume"
    finish_client idle

    echo "=== a closed connection leaves no socket behind on the server"
    c_bg closed "$stream_client" echo --connect $vip:$port --conns 5 --bytes 256K --ports-file "$work/closed.ports" --label closed
    finish_client closed
    wait_until 10 "no server socket left for the closed connections" no_socket_for_ports "$ns_primary" "$work/closed.ports"

    echo "=== request/response latency"
    c_bg rr "$stream_client" rr --connect $vip:$port --count 2000 --timeout-s 30 --label rr
    finish_client rr

    echo "=== negative: SIGKILL of the service mid-stream must be seen (reset or early EOF)"
    c_bg killed "$stream_client" echo --connect $vip:$port --bytes 64M --rate 20 \
        --progress-file "$work/killed.progress" --timeout-s 30 --label killed
    wait_until 20 "4 MiB echoed" progress_at_least "$work/killed.progress" verified $((4 << 20))
    p kill -9 "${bg_pid[service]}"
    expect_client_failure killed 'resets=1|early_eofs=1'

    echo "=== negative: a hard crash with nobody to take over must be seen (timeout)"
    p_bg service2 "$echo_service" --listen 0.0.0.0:$port
    wait_until 30 "the echo service on the primary" listening "$ns_primary" $port
    c_bg orphan "$stream_client" echo --connect $vip:$port --bytes 64M --rate 20 \
        --progress-file "$work/orphan.progress" --timeout-s 4 --label orphan
    wait_until 20 "4 MiB echoed" progress_at_least "$work/orphan.progress" verified $((4 << 20))
    crash_primary
    expect_client_failure orphan 'timeouts=1'
}

run_scenario plain_tcp primary
