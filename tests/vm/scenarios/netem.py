"""Delay and loss on a guest's link (tc netem in the guest): the round trip grows by
the delay, and a stream through 10% loss still arrives intact (by retransmission)."""
import re

from vmlib.errors import VmError
from vmlib.streams import TcpStream, tcp_counters

DELAY_MS = 100
BYTES = 2 * 1024 * 1024


def average_rtt_ms(src, dst):
    output = src.check(f"ping -c 4 -i 0.2 -W 3 {dst.address}", timeout=30)
    match = re.search(r"min/avg/max = [\d.]+/([\d.]+)/", output)
    if not match:
        raise VmError(f"{src.name}: no round-trip summary from ping: {output.strip()[-120:]}")
    return float(match.group(1))


def run(cluster):
    a, b = cluster.boot("a", "b")
    base = average_rtt_ms(a, b)
    a.netem(f"delay {DELAY_MS}ms")
    delayed = average_rtt_ms(a, b)
    if delayed < base + DELAY_MS * 0.9:
        raise VmError(f"RTT {delayed:.1f} ms with {DELAY_MS} ms netem delay (base {base:.1f} ms)")

    a.netem("loss 10%")
    retrans_before = tcp_counters(a)["RetransSegs"]
    nbytes, _ = TcpStream(a, b, nbytes=BYTES).wait_complete(timeout=90)
    retransmitted = tcp_counters(a)["RetransSegs"] - retrans_before
    if retransmitted == 0:
        raise VmError("no retransmission through 10% netem loss: the loss was not applied")

    a.netem_clear()
    cleared = average_rtt_ms(a, b)
    if cleared >= base + DELAY_MS * 0.5:
        raise VmError(f"RTT still {cleared:.1f} ms after clearing netem (base {base:.1f} ms)")
    print(f"rtt {base:.1f} ms, {delayed:.1f} ms with delay, {cleared:.1f} ms cleared; "
          f"{nbytes} bytes through 10% loss with {retransmitted} retransmissions")
