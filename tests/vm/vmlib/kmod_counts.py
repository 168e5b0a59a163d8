"""Reading the tcpfo_count module's counters (kmod/tcpfo_count.c) in a guest."""
from .errors import VmError

PROC = "/proc/net/tcpfo_count"
FIELDS = ("port", "in_segments", "in_payload_bytes", "out_segments", "out_payload_bytes")


def read_counts(guest):
    rc, text = guest.run(f"cat {PROC}")
    if rc != 0:
        raise VmError(f"{guest.name}: can't read {PROC} (module not loaded?): {text.strip()}")
    counts = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        counts[key] = int(value)
    missing = [f for f in FIELDS if f not in counts]
    if missing:
        raise VmError(f"{guest.name}: {PROC} lacks {', '.join(missing)}: {text!r}")
    return counts
