"""Forged and malformed client segments at a protected connection, then a crash.

    c ──► VIP 192.0.2.100:7000 ── p (primary, its hooks) ──► b (backup)
    c also sends tcpfo-vm-bad-segments at the VIP: 800 segments of 16 kinds, half of
      them with a live connection's ports (bad options, bad checksums, ACKs of output
      never sent, RSTs at sequence numbers TCP answers with a challenge ACK, ...)

The hooks see a client segment before the server's TCP does, and the backups log what
they report (docs/architecture.md, "Only what the server's TCP takes"): p's kernel must
survive every segment (no oops, no warning in its log), its hooks must have refused
the client data TCP refuses (client_data_refused > 0), and after p's kernel panics b
must take over every connection and the client must verify every byte with no reset.
A forged RST or ACK that reached the backups would show there: the connection dropped
from protection (reset at the takeover) or a takeover waiting for output the client
never got (reset as diverged).

Registered for both backends (vm.failover_hostile_segments, .kmod). Until the BPF
programs checked the TCP checksum as the module does, a forged payload with a bad
checksum that fell inside the window reached the backup's log with BPF, its replica
diverged and the connection was reset at the takeover (2 runs of 3 by hand).
"""
from vmlib.errors import VmError
from vmlib.failover import PORT, VIP, Failover


def run(cluster, backend="bpf"):
    fo = Failover(cluster, backend)
    streams = fo.start_streams(nbytes=12 << 20)
    fo.wait_mid_stream(streams)
    port = streams.ports()[0]
    print(fo.c.check(f"tcpfo-vm-bad-segments --to {VIP} --port {PORT} --sport {port} "
                     f"--rounds 50 --seed 7").strip())
    oops = fo.p.run("dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|Call Trace'")[1].strip()
    if oops:
        raise VmError(f"{fo.p.name}'s kernel complained after the segments: {oops[:400]}")
    refused = fo.status(fo.p).get("hooks", {}).get("client_data_refused", 0)
    if not refused:
        raise VmError(f"{fo.p.name}'s hooks refused no client data of the forged segments")
    fo.p.panic()
    fo.expect_takeover(streams)
    print(f"{backend}: {refused} forged payload(s) refused by the hooks before the crash")
