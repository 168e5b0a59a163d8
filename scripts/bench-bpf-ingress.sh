#!/usr/bin/env bash
# Benchmark (not a test): what one client segment costs the ingress hook, this tree's
# bpf/ against another commit's (--base, default HEAD), through BPF_PROG_TEST_RUN (`bpftool prog run ...
# repeat N`: the kernel times N runs of the program on one frame and reports the
# average). The segments go to VIP:PORT from a connection the hooks do not protect,
# so neither build reports them: what differs is the work every segment gets before
# the connection is looked up (since the TCP checksum check, that check). A test
# run's skb is CHECKSUM_NONE, so this is the full-sum path; a CHECKSUM_PARTIAL or
# CHECKSUM_UNNECESSARY segment (veth, offloading NICs, GRO) stops after reading
# skb->ip_summed.
#
#   scripts/bench-bpf-ingress.sh [--base COMMIT] [--rounds N] [--repeat N]
#
# Both objects are compiled here with the VIP (192.0.2.100:7000) built in, loaded with
# bpftool (pinned under /sys/fs/bpf/tcpfo-bench-*, removed at exit) and run on CPU 0,
# alternating, `--rounds` times; prints the median ns per run for each payload size.
# Needs root, clang, bpftool, python3 and a build's vmlinux.h (scripts/build.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${TCPFO_BUILD_DIR:-$top/build}
base=HEAD
rounds=5
repeat=100000
while [ $# -gt 0 ]; do
    case $1 in
        --base) base=${2:?--base needs a commit}; shift 2 ;;
        --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
        --repeat) repeat=${2:?--repeat needs a number}; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "bench-bpf-ingress.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "bench-bpf-ingress.sh: must run as root (BPF)" >&2; exit 1; }
vmlinux=$build/bpf/gen/vmlinux.h
[ -s "$vmlinux" ] || { echo "bench-bpf-ingress.sh: no $vmlinux: run scripts/build.sh first" >&2; exit 1; }

work=$(mktemp -d /tmp/tcpfo-bench-bpf-$$.XXXXXX)
pins=/sys/fs/bpf/tcpfo-bench-$$
cleanup() { rm -rf "$work" "$pins" "$pins-maps"; }
trap cleanup EXIT

# object NAME: bpf/ of NAME (a commit, or "tree" for the working tree) compiled with
# the VIP in place of the loader's read-only settings.
object() {
    local name=$1 src=$work/$1
    mkdir -p "$src"
    if [ "$name" = tree ]; then
        cp "$top"/bpf/*.c "$top"/bpf/*.h "$src"/
    else
        git -C "$top" archive "$name" bpf | tar -x -C "$src" --strip-components=1
    fi
    # 192.0.2.100 and port 7000 in network order, as the loader would set them.
    sed -i 's/^const volatile __u32 vip_addr = 0;/const volatile __u32 vip_addr = 0x640200c0;/;
            s/^const volatile __u16 vip_port = 0;/const volatile __u16 vip_port = 0x581b;/' "$src/snoop.bpf.c"
    grep -q '0x640200c0' "$src/snoop.bpf.c" || { echo "bench-bpf-ingress.sh: no vip_addr in $name" >&2; exit 1; }
    clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -I"$(dirname "$vmlinux")" -I"$src" \
          -c "$src/snoop.bpf.c" -o "$src/raw.o"
    bpftool gen object "$work/$name.o" "$src/raw.o"
}

# Ethernet/IPv4/TCP frames with valid checksums: 192.0.2.1:40001 -> 192.0.2.100:7000.
python3 - "$work" <<'EOF'
import socket, struct, sys
def ones(b):
    b += b'\0' * (len(b) % 2)
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s
src, dst = socket.inet_aton('192.0.2.1'), socket.inet_aton('192.0.2.100')
for n in (0, 64, 512, 1448, 3000):
    payload = bytes((i * 7 + 3) & 0xff for i in range(n))
    tcp = struct.pack('!HHIIBBHHH', 40001, 7000, 1001, 9001, 5 << 4, 0x18 if n else 0x10, 502, 0, 0) + payload
    check = 0xffff & ~ones(src + dst + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack('!H', check) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', 0xffff & ~ones(ip)) + ip[12:]
    open('%s/seg%d.bin' % (sys.argv[1], n), 'wb').write(b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00' + ip + tcp)
EOF

# run NAME SIZE: ns per run of NAME's ingress program on the SIZE-byte segment.
run() {
    rm -rf "$pins" "$pins-maps"
    bpftool prog loadall "$work/$1.o" "$pins" pinmaps "$pins-maps"
    taskset -c 0 bpftool prog run pinned "$pins/tcpfo_ingress" data_in "$work/seg$2.bin" repeat "$repeat" |
        sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p'
    rm -rf "$pins" "$pins-maps"
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

object "$base"
object tree
echo "| payload (bytes) | $base (ns/run) | this tree (ns/run) | added (ns) |"
echo "|---|---|---|---|"
for size in 0 64 512 1448 3000; do
    : >"$work/a" ; : >"$work/b"
    for ((r = 0; r < rounds; r++)); do
        run "$base" "$size" >>"$work/a"
        run tree "$size" >>"$work/b"
    done
    a=$(median <"$work/a"); b=$(median <"$work/b")
    echo "| $size | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {print b - a}') |"
done
