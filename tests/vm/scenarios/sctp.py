"""SCTP between two guests through lksctp-tools (sctp_bindx, sctp_connectx,
sctp_sendmsg): 16 MiB arrive with the sender's checksum. The guest kernel loads the
sctp module (and libcrc32c) from Debian's package at boot."""
from vmlib.errors import VmError
from vmlib.streams import parse_result
from vmlib.waiting import wait_until

PORT = 5001
BYTES = 16 * 1024 * 1024


def sctp_snmp(guest):
    return {k: int(v) for k, v in
            (line.split() for line in guest.check("cat /proc/net/sctp/snmp").splitlines())}


def run(cluster):
    a, b = cluster.boot("a", "b")
    for guest in (a, b):
        if "\nsctp " not in "\n" + guest.check("cat /proc/modules"):
            raise VmError(f"{guest.name}: the sctp module is not loaded")

    server = b.spawn(f"tcpfo-vm-sctp server --bind {b.address} --port {PORT}")
    wait_until(lambda: "listening" in server.output(), 20, f"the SCTP server on {b.name}")
    client = a.spawn(f"tcpfo-vm-sctp client --to {b.address} --port {PORT} --bytes {BYTES}")
    sent = parse_result(a, client.wait_success(120))
    received = parse_result(b, server.wait_success(30))
    if sent != received or sent[0] != BYTES:
        raise VmError(f"sent {sent[0]} bytes fnv64 {sent[1]}, received {received[0]} bytes "
                      f"fnv64 {received[1]} (expected {BYTES} bytes)")
    # The counters prove it was SCTP end to end: chunks no larger than a packet,
    # a graceful SHUTDOWN, no abort, no bad checksum at the receiver.
    sent_by_a, seen_by_b = sctp_snmp(a), sctp_snmp(b)
    problems = []
    if sent_by_a["SctpActiveEstabs"] < 1:
        problems.append(f"{a.name} established no association")
    if sent_by_a["SctpOutOrderChunks"] < BYTES // 1500:
        problems.append(f"{a.name} sent only {sent_by_a['SctpOutOrderChunks']} ordered data chunks")
    if sent_by_a["SctpShutdowns"] + seen_by_b["SctpShutdowns"] < 1:
        problems.append("no graceful SHUTDOWN")
    for guest, snmp in ((a, sent_by_a), (b, seen_by_b)):
        if snmp["SctpAborteds"] or snmp["SctpChecksumErrors"]:
            problems.append(f"{guest.name}: {snmp['SctpAborteds']} aborts, "
                            f"{snmp['SctpChecksumErrors']} checksum errors")
    if problems:
        raise VmError("SCTP counters: " + "; ".join(problems))
    print(f"{BYTES} bytes over SCTP, fnv64 {sent[1]} at both ends, "
          f"{sent_by_a['SctpOutOrderChunks']} data chunks")
