"""Throughput of the replication transports in the same guests, one after the other
(a benchmark, not a test: not registered with ctest; docs/performance.md, "SCTP
transport in guests").

    tests/vm/run_scenario.py --timeout 600 transport_throughput

The guests get both segments. For each transport (tcp, then sctp) failoverd runs on p
and b as in the failover scenarios (vmlib/failover.py), and c pushes one bulk echo
connection of BYTES through the VIP (every byte verified), then the same against p's
own address, which no hook protects: plain TCP to the same service in the same guests
at the same moment, the reference. Each figure is the client's upload rate (MB/s,
echo verified), the median of ROUNDS runs. Under TCG every figure is a fraction of
what real hardware does; only the ratios mean something.
"""
import statistics

from vmlib.errors import VmError
from vmlib.failover import NODE_MEMORY_MB, PORT, VIP, Failover

BYTES = 16 << 20
ROUNDS = 3


def bulk_mbps(client, address):
    rc, out = client.run(f"tcpfo-stream-client echo --connect {address}:{PORT} --conns 1 "
                         f"--bytes {BYTES} --timeout-s 120 --label bench", timeout=150)
    line = next((l for l in out.splitlines() if l.startswith("stream-client ")), None)
    if rc != 0 or line is None:
        raise VmError(f"bulk echo to {address} failed (exit {rc}): {out.strip()[-300:]}")
    fields = dict(w.split("=", 1) for w in line.split() if "=" in w)
    if fields.get("verified") != str(BYTES) or fields.get("result") != "PASS":
        raise VmError(f"bulk echo to {address}: {line}")
    return float(fields["up_MBps"])


def run(cluster):
    guests = cluster.boot("c", "p", "b", memory_mb={"p": NODE_MEMORY_MB, "b": NODE_MEMORY_MB},
                          second_segment=True)
    results = {}
    for transport in ("tcp", "sctp"):
        fo = Failover(cluster, transport=transport, guests=guests, mode="two-node")
        through_vip, plain = [], []
        for _ in range(ROUNDS):
            through_vip.append(bulk_mbps(fo.c, VIP))
            plain.append(bulk_mbps(fo.c, fo.p.address))
        status = fo.status(fo.p)
        if status.get("role") != "primary" or [p.get("state") for p in status.get("peers", [])] != ["live"]:
            raise VmError(f"{fo.p.name} after the runs: role {status.get('role')}, peers "
                          f"{status.get('peers')}")
        results[transport] = (statistics.median(through_vip), statistics.median(plain),
                               through_vip, plain)
        fo.stop()
    for transport, (vip, plain, all_vip, all_plain) in results.items():
        print(f"{transport}: through the VIP {vip:.1f} MB/s (runs {all_vip}), plain TCP to p "
              f"{plain:.1f} MB/s (runs {all_plain}), ratio {vip / plain:.2f}")
    tcp_vip, sctp_vip = results["tcp"][0], results["sctp"][0]
    print(f"sctp/tcp through the VIP: {sctp_vip / tcp_vip:.2f}")
