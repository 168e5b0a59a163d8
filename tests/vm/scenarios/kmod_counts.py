"""The tcpfo_count module in a guest: it refuses a bad port, counts the payload bytes
of its port in each direction exactly as the streams carried them (and nothing of
another port), and unloads cleanly.

    a (192.0.2.11) ──3 MiB to :5001──► b (tcpfo_count port=5001)
    a ◄──1 MiB to :5001── b            (b's outgoing data)
    a ──1 MiB to :5002──► b            (not counted)
"""
from vmlib.errors import VmError
from vmlib.kmod_counts import PROC, read_counts
from vmlib.streams import TcpStream, tcp_counters

PORT = 5001
IN_BYTES = 3 * 1024 * 1024
OUT_BYTES = 1 * 1024 * 1024


def expect_payload(counted, sent, retransmitted, what):
    # Exact unless a retransmission brought payload past the hook a second time;
    # even then at most one 64 KiB super-packet per retransmission.
    if counted < sent or (retransmitted == 0 and counted != sent) or \
            counted > sent + retransmitted * 65536:
        raise VmError(f"module counted {counted} payload bytes {what}, {sent} were sent "
                      f"({retransmitted} retransmissions)")


def expect_segments(counted, before, after, what):
    sent = after["OutSegs"] - before["OutSegs"]
    retransmitted = after["RetransSegs"] - before["RetransSegs"]
    # A retransmitted super-packet is at most 45 segments (64 KiB at a 1448-byte MSS).
    if counted < sent or (retransmitted == 0 and counted != sent) or \
            counted > sent + retransmitted * 45:
        raise VmError(f"module counted {counted} segments {what}: {sent} sent, "
                      f"{retransmitted} retransmissions")


def run(cluster):
    a, b = cluster.boot("a", "b")
    rc, output = b.run("insmod /lib/modules/tcpfo/tcpfo_count.ko port=0")
    if rc == 0:
        raise VmError("tcpfo_count loaded with port=0")
    if "port=0 is not a TCP port" not in b.check("dmesg"):
        raise VmError(f"no clear error for port=0 in the kernel log (insmod said: {output.strip()})")

    b.load_module("tcpfo_count", port=PORT)
    zero = read_counts(b)
    if zero["port"] != PORT or any(zero[k] for k in zero if k != "port"):
        raise VmError(f"fresh module shows {zero}")

    TcpStream(a, b, PORT + 1, nbytes=OUT_BYTES).wait_complete(timeout=60)
    if read_counts(b) != zero:
        raise VmError(f"module counted traffic of port {PORT + 1}: {read_counts(b)}")

    a_before, b_before = tcp_counters(a), tcp_counters(b)
    TcpStream(a, b, PORT, nbytes=IN_BYTES).wait_complete(timeout=60)
    TcpStream(b, a, PORT, nbytes=OUT_BYTES).wait_complete(timeout=60)
    counts = read_counts(b)
    a_after, b_after = tcp_counters(a), tcp_counters(b)

    expect_payload(counts["in_payload_bytes"], IN_BYTES,
                   a_after["RetransSegs"] - a_before["RetransSegs"], "in")
    expect_payload(counts["out_payload_bytes"], OUT_BYTES,
                   b_after["RetransSegs"] - b_before["RetransSegs"], "out")
    # Segments: every TCP segment on port 5001 crossed between a and b in this window,
    # so what the hooks on b count in is what a's stack sent (OutSegs counts each
    # segment of a TSO packet, retransmissions apart) and what they count out is b's.
    expect_segments(counts["in_segments"], a_before, a_after, f"in (= {a.name}'s OutSegs)")
    expect_segments(counts["out_segments"], b_before, b_after, f"out (= {b.name}'s OutSegs)")

    b.unload_module("tcpfo_count")
    if b.run(f"test -e {PROC}")[0] == 0 or "tcpfo_count" in b.check("cat /proc/modules"):
        raise VmError("tcpfo_count still present after rmmod")
    if "tcpfo_count: unloaded" not in b.check("dmesg"):
        raise VmError("no unload line from tcpfo_count in the kernel log")
    print(f"module counts {counts}")
