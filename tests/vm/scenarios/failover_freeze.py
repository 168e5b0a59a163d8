"""Failover through a freeze of the primary, then its thaw: p is stopped mid-stream,
long enough for b to be elected and take over; then p runs again beside it.

What must hold (DESIGN.md invariant 3, one speaker): from the freeze on, p never
sends another segment from VIP:7000 (counted on the host end of p's cable, p's own
MAC as source: b sends from the same address), it ends silent and without the VIP,
and the client verifies every byte of both connections with no reset. With the
witness (vmlib/failover.py) p's lease is what fences it: its egress hook drops every
segment once the lease's deadline has passed on p's clock (docs/architecture.md,
"Leases and fencing"). In two-node mode (no lease) nothing fences it until it hears
b's epoch, and this scenario fails (10 segments in the run tried).

The freeze is a SIGSTOP of p's emulator (guest.freeze(clock_runs=True)): p's clocks
follow the host's, so on the thaw p's kernel finds its lease long expired, as a
primary whose host did not schedule it would. A QMP stop (failover_freeze_qmp) stops
the guest's clocks too: p then still holds the rest of its lease when it runs again,
and its kernel answers the segments that waited on its tap before its failoverd
hears epoch 2 (docs/architecture.md, "Known gaps").
"""
import json
import time

from vmlib.capture import TapCapture
from vmlib.errors import VmError
from vmlib.failover import PORT, VIP, Failover
from vmlib.waiting import wait_until

# How long the thawed primary is watched after it says it fell silent, beside the
# streams going on through b: its TCP's timers (retransmissions, window probes) fire
# within this window if its egress is not dropped. A window in which p must not speak,
# not a wait for something to happen.
WATCH_S = 3.0


def run(cluster, backend="bpf", mode="witness", clock_runs=True):
    """clock_runs=False (QMP stop): the segments p sends before its failoverd says it
    is silent are counted and printed, not failed on; none may follow."""
    fo = Failover(cluster, backend, mode=mode)
    # timeout_s: a connection left hanging by two speakers fails after 30 s instead of
    # the default 90.
    streams = fo.start_streams(timeout_s=30)
    fo.wait_mid_stream(streams)
    fo.p.freeze(clock_runs=clock_runs)
    # From the freeze on: a frozen guest sends nothing, so every frame counted is one
    # the thawed p sent.
    capture = TapCapture(fo.p, f"tcp and src host {VIP} and src port {PORT}",
                         cluster.workdir).start()
    try:
        fo.wait_takeover(streams.conns)
        fo.p.thaw()
        # p learns of epoch 2 (b's heartbeats, the witness's refusals) and says so.
        p_status = wait_until(lambda: _silent(fo), 30,
                              f"{fo.p.name} (thawed) to say it fell silent", 0.5)
        silent_by = time.time()  # the host's clock, as the capture's stamps
        time.sleep(WATCH_S)
        summary_rc, fields, output = streams.wait_end()
    finally:
        capture.stop()
    frames = capture.lines()
    after_silent = [l for l in frames if float(l.split()[0]) > silent_by]
    p_holds_vip = fo.holds_vip(fo.p)
    summary = {k: fields.get(k) for k in ("ok", "failed", "verified", "resets", "corrupt",
                                          "early_eofs", "timeouts")}
    lease = p_status.get("lease") or {}
    print(f"after its freeze ({'SIGSTOP' if clock_runs else 'QMP stop'}) p sent "
          f"{len(frames)} segment(s) from {VIP}:{PORT}, {len(after_silent)} after it said "
          f"it was silent; thawed, it says role {p_status.get('role')}, epoch "
          f"{p_status.get('epoch')} ({lease.get('silent', '')!r}), hooks "
          f"lease_segments_dropped {(p_status.get('hooks') or {}).get('lease_segments_dropped')}"
          f", VIP {'held' if p_holds_vip else 'not held'}; client exit {summary_rc}: "
          f"{json.dumps(summary)}")
    for line in frames[:5]:
        print(f"  p after its freeze: {line}")

    failures = []
    if after_silent or (frames and clock_runs):
        failures.append(f"the primary sent {len(frames)} segment(s) from {VIP}:{PORT} after "
                        f"its freeze ({len(after_silent)} after it said it was silent), b "
                        f"having taken over (one speaker)")
    if p_holds_vip:
        failures.append(f"the thawed primary {fo.p.name} still holds {VIP}")
    try:
        fo.expect_takeover(streams)
    except VmError as e:
        failures.append(str(e))
    if failures:
        raise VmError("; ".join(failures))


def _silent(fo):
    """p's status once it says it is silent (a higher epoch seen) or fenced (its lease
    lapsed); None before."""
    status = fo.status(fo.p)
    return status if status.get("role") in ("silent", "fenced") else None
