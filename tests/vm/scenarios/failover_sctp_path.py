"""Replication over SCTP on two segments (issue 10): losing one path is no failure,
losing both is a crash.

    c (192.0.2.11) ──────────── segment 1 (client, VIP 192.0.2.100) ─┬─ p .12 ─┬─ b .13
                                segment 2 (replication only)         └─ p .212 ┴─ b .213

failoverd on p and b runs with --transport sctp over both segments, heartbeats on
both; the association's primary path is segment 2 (vmlib/failover.py). Two echo
connections stream through the VIP, every byte verified.

1. Mid-stream (each connection has 1.5 MiB verified), p's segment-2 cable is cut:
   SCTP must carry the stream on segment 1. Once each connection has 1 MiB more
   verified (the client's ACKs are clamped to the stable point, so the stream can only
   go on if the backup keeps acknowledging), b must still be a plain backup (no
   takeover, no campaign), p still its primary with the backup live, and every
   connection's stable point on p above where it was at the cut.
2. Then p's segment-1 cable goes too (both replication paths and its client link: a
   crash), p's emulator is killed once b took over, and the client must verify every
   byte with no reset.
"""
import json

from vmlib.errors import VmError
from vmlib.failover import Failover

AFTER_CUT = 1 << 20  # verified per connection after the cut before the path is judged


def stable_points(fo):
    """p's stable point (client bytes held by the backup) of each connection."""
    status = fo.status(fo.p)
    return {c.get("id", i): (c.get("client_bytes") or {}).get("stable")
            for i, c in enumerate(status.get("connections", []))}


def expect_no_takeover(fo, streams):
    b_status = fo.status(fo.b)
    if b_status.get("role") != "backup" or b_status.get("takeover") is not None or \
            (b_status.get("lease") or {}).get("campaign_epoch"):
        raise VmError(f"{fo.b.name} is no longer a plain backup after one path was cut: role "
                      f"{b_status.get('role')}, takeover {json.dumps(b_status.get('takeover'))}")
    if b_status.get("connection_count") != streams.conns:
        raise VmError(f"{fo.b.name} holds {b_status.get('connection_count')} connection(s), "
                      f"expected {streams.conns}")
    p_status = fo.status(fo.p)
    peers = [peer.get("state") for peer in p_status.get("peers", [])]
    if p_status.get("role") != "primary" or peers != ["live"]:
        raise VmError(f"{fo.p.name} after the cut: role {p_status.get('role')}, peers {peers}")


def sctp_paths(guest):
    """The association's view of the peer's addresses (for the log)."""
    return guest.run("cat /proc/net/sctp/remaddr 2>/dev/null | tail -n +2")[1].strip()


def run(cluster, backend="bpf"):
    # Two-node mode, as measured (10 of 10): a witness on c would see the cuts differently
    # (it reaches p over the first segment only).
    fo = Failover(cluster, backend, transport="sctp", mode="two-node")
    # 16 MiB at 1 MB/s: the checks after the cut (several failoverctl calls, seconds
    # each on a loaded host) must end before the streams do, or the crash would meet
    # idle connections (8 MiB ran out once in ten runs). Every receive gap over
    # 500 ms is reported (stderr, in the client's output): the path cut's and the
    # crash's, told apart by the bytes received before each.
    streams = fo.start_streams(nbytes=16 << 20, timeout_s=150, client_args="--report-gaps-ms 500")
    fo.wait_mid_stream(streams)
    before = stable_points(fo)
    if not before or any(v is None for v in before.values()):
        raise VmError(f"{fo.p.name}: no stable point per connection in its status: {before}")
    at_cut = streams.progress().get("slowest", 0)

    # 1. One path: p's second cable, the association's primary path.
    fo.p.link_down(second=True)
    progress = streams.wait_verified(at_cut + AFTER_CUT, timeout=90)
    expect_no_takeover(fo, streams)
    after = stable_points(fo)
    stuck = {k: (before[k], after.get(k)) for k in before
             if after.get(k) is None or after[k] <= before[k]}
    if stuck:
        raise VmError(f"{fo.p.name}: stable point did not move after the cut (before, after): {stuck}")
    print(f"one path cut: {progress.get('slowest')} bytes verified on the slowest connection "
          f"(cut at {at_cut}), stable points {before} -> {after}, no takeover; "
          f"p's view of b's paths: {sctp_paths(fo.p)!r}")

    # 2. Both paths (and the client's link): a crash.
    progress = streams.progress()
    if progress.get("sent", 0) >= streams.conns * streams.nbytes:
        raise VmError(f"the streams sent all their bytes before the crash: it would meet "
                      f"idle connections ({progress})")
    fo.p.link_down()
    fo.wait_takeover(streams.conns)
    fo.p.power_off()
    fo.expect_takeover(streams)
    gaps = [line.split(": ", 1)[1] for line in streams.output.splitlines()
            if line.startswith("tcpfo-stream-client: ") and " for " in line]
    print(f"client gaps over 500 ms (cut at {at_cut} bytes verified): " + ("; ".join(gaps) or "none"))
