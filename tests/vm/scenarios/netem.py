"""Delay and loss on a guest's link (tc netem in the guest): the round trip grows by
the delay, and a stream through 10% loss still arrives intact (by retransmission).

Round trips are compared by their minimum over several pings, not their average: on
a loaded host one ping held up behind the emulator's vCPU thread (tens to hundreds of
ms under TCG) moves an average of four past any fixed margin, while netem's delay
raises every sample, the smallest included, and nothing else can lower the smallest."""
import re

from vmlib.errors import VmError
from vmlib.streams import TcpStream, tcp_counters

DELAY_MS = 100
BYTES = 2 * 1024 * 1024
PINGS = 5


def min_rtt_ms(src, dst):
    # -W 10: a reply late by seconds on a busy host is late, not lost.
    output = src.check(f"ping -c {PINGS} -i 0.2 -W 10 {dst.address}", timeout=90)
    match = re.search(r"min/avg/max = ([\d.]+)/", output)
    if not match:
        raise VmError(f"{src.name}: no round-trip summary from ping: {output.strip()[-120:]}")
    return float(match.group(1))


def run(cluster):
    a, b = cluster.boot("a", "b")
    base = min_rtt_ms(a, b)
    a.netem(f"delay {DELAY_MS}ms")
    delayed = min_rtt_ms(a, b)
    if delayed < base + DELAY_MS * 0.9:
        raise VmError(f"smallest RTT {delayed:.1f} ms with {DELAY_MS} ms netem delay "
                      f"(base {base:.1f} ms): the delay was not applied")

    a.netem("loss 10%")
    retrans_before = tcp_counters(a)["RetransSegs"]
    nbytes, _ = TcpStream(a, b, nbytes=BYTES).wait_complete(timeout=90)
    retransmitted = tcp_counters(a)["RetransSegs"] - retrans_before
    if retransmitted == 0:
        raise VmError("no retransmission through 10% netem loss: the loss was not applied")

    a.netem_clear()
    cleared = min_rtt_ms(a, b)
    if cleared >= base + DELAY_MS * 0.5:
        raise VmError(f"smallest RTT still {cleared:.1f} ms after clearing netem "
                      f"(base {base:.1f} ms)")
    print(f"smallest rtt {base:.1f} ms, {delayed:.1f} ms with delay, {cleared:.1f} ms cleared; "
          f"{nbytes} bytes through 10% loss with {retransmitted} retransmissions")
