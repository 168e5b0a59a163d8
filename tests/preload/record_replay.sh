#!/usr/bin/env bash
# Records a run of nondet_demo through the preload library, replays it, and breaks the
# log in the ways the library must notice (docs/protocol.md, "The application log").
#
#   plain run A, plain run B             differ (the comparison can fail)
#   record -> log, replay <- log         identical output
#   truncated / corrupt log              exit 86, one stderr line
#   replay in another call order         "replay diverged at entry K ...; the replica goes live",
#                                        and it runs on live (exit 0): a replica is never killed
#   log cut after round 1                round 1 replayed, round 2 live, exit 0
#   a thread, a child, an exec'd child   neither adds entries nor takes them
#   bad mode / bad fd                    exit 2 at load
#   a log that cannot be written         one stderr line, the application runs on
#
# Usage: record_replay.sh path/to/libtcpfo-preload.so path/to/nondet_demo
set -euo pipefail

lib=$1
demo=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/tcpfo-preload.$$.XXXXXX")
trap 'rm -rf "$dir"' EXIT

say() { echo "record_replay: $*"; }
fail() { echo "record_replay: FAIL: $*" >&2; exit 1; }

# record LOG OUT [demo args]: the log on fd 3.
record() {
    local log=$1 out=$2; shift 2
    TCPFO_PRELOAD_MODE=record TCPFO_PRELOAD_LOG_FD=3 LD_PRELOAD=$lib "$demo" "$@" >"$out" 3>"$log"
}

# replay LOG OUT ERR [demo args]: prints the exit status, never fails itself.
replay() {
    local log=$1 out=$2 err=$3; shift 3
    local status=0
    TCPFO_PRELOAD_MODE=replay TCPFO_PRELOAD_LOG_FD=3 LD_PRELOAD=$lib "$demo" "$@" \
        >"$out" 2>"$err" 3<"$log" || status=$?
    echo "$status"
}

# The byte offset of every entry: 8-byte header, big-endian payload length at 4..7.
entry_offsets() {
    local log=$1 off=0 size len
    size=$(stat -c %s "$log")
    while [ "$off" -lt "$size" ]; do
        echo "$off"
        len=$(od -An -tu1 -j $((off + 4)) -N4 "$log" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
        off=$((off + 8 + len))
    done
}

# expect_failure ERR STATUS WANTED PATTERN WHAT: exit status WANTED, ERR one line matching PATTERN.
expect_failure() {
    local err=$1 status=$2 wanted=$3 pattern=$4 what=$5
    [ "$status" = "$wanted" ] || fail "$what: exit $status, wanted $wanted ($(cat "$err"))"
    [ "$(wc -l <"$err")" = 1 ] || fail "$what: wanted one stderr line, got: $(cat "$err")"
    grep -Eq "$pattern" "$err" || fail "$what: stderr does not match /$pattern/: $(cat "$err")"
    say "$what: exit $status, $(cat "$err")"
}

say "two plain runs differ"
"$demo" >"$dir/plain-a.out"
"$demo" >"$dir/plain-b.out"
! cmp -s "$dir/plain-a.out" "$dir/plain-b.out" || fail "two plain runs printed the same"

say "the library without a mode passes through"
LD_PRELOAD=$lib "$demo" >"$dir/passthrough.out"
! cmp -s "$dir/plain-a.out" "$dir/passthrough.out" || fail "a pass-through run repeated a plain run"

say "record, then replay"
record "$dir/full.log" "$dir/recorded.out"
entries=$(entry_offsets "$dir/full.log" | wc -l)
# 2 rounds of: 2 clock_gettime, gettimeofday, time, 2 getrandom, getpid, 2 device reads.
[ "$entries" -ge 18 ] || fail "the log holds $entries entries, wanted at least 18"
say "log: $(stat -c %s "$dir/full.log") bytes, $entries entries"
status=$(replay "$dir/full.log" "$dir/replayed.out" "$dir/replayed.err")
[ "$status" = 0 ] || fail "replay exited $status: $(cat "$dir/replayed.err")"
cmp "$dir/recorded.out" "$dir/replayed.out" || fail "the replayed run printed something else"
[ ! -s "$dir/replayed.err" ] || fail "replay wrote to stderr: $(cat "$dir/replayed.err")"
! cmp -s "$dir/recorded.out" "$dir/plain-a.out" || fail "the recorded run repeated a plain run"

say "replay from a pipe (entries arrive in pieces)"
status=0
TCPFO_PRELOAD_MODE=replay TCPFO_PRELOAD_LOG_FD=3 LD_PRELOAD=$lib "$demo" >"$dir/piped.out" 2>"$dir/err" \
    3< <(dd if="$dir/full.log" bs=1000 status=none) || status=$?
[ "$status" = 0 ] || fail "replay from a pipe exited $status: $(cat "$dir/err")"
cmp "$dir/recorded.out" "$dir/piped.out" || fail "replay from a pipe printed something else"

say "a truncated log"
head -c $(($(stat -c %s "$dir/full.log") - 3)) "$dir/full.log" >"$dir/truncated.log"
status=$(replay "$dir/truncated.log" "$dir/out" "$dir/err")
expect_failure "$dir/err" "$status" 86 "^tcpfo-preload: replay log entry $entries is truncated: " "truncated log"

say "a corrupt log: the third entry's flags byte set"
third=$(entry_offsets "$dir/full.log" | sed -n 3p)
cp "$dir/full.log" "$dir/corrupt.log"
printf '\x01' | dd of="$dir/corrupt.log" bs=1 seek=$((third + 1)) conv=notrunc status=none
status=$(replay "$dir/corrupt.log" "$dir/out" "$dir/err")
expect_failure "$dir/err" "$status" 86 "^tcpfo-preload: replay log entry 3 is corrupt: .*nonzero flags" "corrupt log"

say "a corrupt log: an unknown kind in the fifth entry"
fifth=$(entry_offsets "$dir/full.log" | sed -n 5p)
cp "$dir/full.log" "$dir/corrupt.log"
printf '\x63' | dd of="$dir/corrupt.log" bs=1 seek="$fifth" conv=notrunc status=none
status=$(replay "$dir/corrupt.log" "$dir/out" "$dir/err")
expect_failure "$dir/err" "$status" 86 "^tcpfo-preload: replay log entry 5 is corrupt: entry of unknown kind 99$" "unknown kind"

say "the replica calls in another order"
status=$(replay "$dir/full.log" "$dir/out" "$dir/err" --other-order)
expect_failure "$dir/err" "$status" 0 \
    "^tcpfo-preload: replay diverged at entry [0-9]+: the replica called .+ where the primary called .+; the replica goes live$" \
    "other order"

say "a log that ends after round 1: round 2 is live"
half=$(entry_offsets "$dir/full.log" | sed -n $((entries / 2 + 1))p)
head -c "$half" "$dir/full.log" >"$dir/half.log"
status=$(replay "$dir/half.log" "$dir/half.out" "$dir/half.err")
[ "$status" = 0 ] || fail "replay of a short log exited $status: $(cat "$dir/half.err")"
sed '/^round 2$/,$d' "$dir/recorded.out" >"$dir/recorded-round1"
sed '/^round 2$/,$d' "$dir/half.out" >"$dir/half-round1"
cmp "$dir/recorded-round1" "$dir/half-round1" || fail "round 1 of a short log was not replayed"
! cmp -s "$dir/recorded.out" "$dir/half.out" || fail "round 2 repeated the recorded run instead of going live"
[ "$(sed -n '/^round 2$/,$p' "$dir/half.out" | grep -c '^getpid ')" = 1 ] || fail "round 2 incomplete"

say "a second thread, a forked child and its exec'd child neither add entries nor take them"
record "$dir/busy.log" "$dir/busy.out" --with-thread --with-fork
busy_entries=$(entry_offsets "$dir/busy.log" | wc -l)
[ "$busy_entries" = "$entries" ] || fail "with a thread and a child the log holds $busy_entries entries, not $entries"
status=$(replay "$dir/full.log" "$dir/busy-replayed.out" "$dir/err" --with-thread --with-fork)
[ "$status" = 0 ] || fail "replay with a thread and a child exited $status: $(cat "$dir/err")"
cmp "$dir/recorded.out" "$dir/busy-replayed.out" || fail "a thread or a child took entries from the log"

say "an unknown mode and a bad descriptor are refused at load"
status=0
TCPFO_PRELOAD_MODE=rewind LD_PRELOAD=$lib "$demo" >"$dir/out" 2>"$dir/err" || status=$?
expect_failure "$dir/err" "$status" 2 "^tcpfo-preload: unknown TCPFO_PRELOAD_MODE 'rewind'" "unknown mode"
# At load, not at the first interposed call: /bin/true makes none.
status=0
TCPFO_PRELOAD_MODE=rewind LD_PRELOAD=$lib /bin/true 2>"$dir/err" || status=$?
expect_failure "$dir/err" "$status" 2 "^tcpfo-preload: unknown TCPFO_PRELOAD_MODE 'rewind'" "unknown mode, /bin/true"
status=0
TCPFO_PRELOAD_MODE=replay TCPFO_PRELOAD_LOG_FD=9 LD_PRELOAD=$lib "$demo" >"$dir/out" 2>"$dir/err" 9<&- || status=$?
expect_failure "$dir/err" "$status" 2 "^tcpfo-preload: TCPFO_PRELOAD_LOG_FD=9 is not an open descriptor" "bad fd"

say "a log that cannot be written: one line, the application runs on"
status=0
TCPFO_PRELOAD_MODE=record TCPFO_PRELOAD_LOG_FD=3 LD_PRELOAD=$lib "$demo" >"$dir/out" 2>"$dir/err" 3>/dev/full || status=$?
expect_failure "$dir/err" "$status" 0 "^tcpfo-preload: can't write the application log to fd 3, recording stops: No space left on device$" "full log"
[ "$(grep -c '^getpid ' "$dir/out")" = 2 ] || fail "the application did not finish with a full log"

say "a log on a pipe whose reader is gone: one line, no SIGPIPE"
status=0
TCPFO_PRELOAD_MODE=record TCPFO_PRELOAD_LOG_FD=3 LD_PRELOAD=$lib "$demo" >"$dir/out" 2>"$dir/err" 3> >(true) || status=$?
expect_failure "$dir/err" "$status" 0 "^tcpfo-preload: can't write the application log to fd 3, recording stops: Broken pipe$" "closed pipe"

say "record on a descriptor open for reading only is refused at load"
status=0
TCPFO_PRELOAD_MODE=record TCPFO_PRELOAD_LOG_FD=3 LD_PRELOAD=$lib "$demo" >"$dir/out" 2>"$dir/err" 3<"$dir/full.log" || status=$?
expect_failure "$dir/err" "$status" 2 "^tcpfo-preload: TCPFO_PRELOAD_LOG_FD=3 is not open for writing$" "read-only fd"

say "PASS"
