"""CI smoke: two guests, the module loaded, one TCP stream checked end to end and
against the module's counts, then a kernel panic in the receiver ends the next stream.

    a (192.0.2.11) ──► b (192.0.2.12, tcpfo_count port=5001)
"""
from vmlib.errors import VmError
from vmlib.kmod_counts import read_counts
from vmlib.streams import TcpStream, tcp_counters

PORT = 5001
BYTES = 2 * 1024 * 1024


def run(cluster):
    a, b = cluster.boot("a", "b")
    b.load_module("tcpfo_count", port=PORT)

    retrans_before = tcp_counters(a)["RetransSegs"]
    nbytes, _ = TcpStream(a, b, PORT, nbytes=BYTES).wait_complete(timeout=60)
    counts = read_counts(b)
    retransmitted = tcp_counters(a)["RetransSegs"] - retrans_before
    if nbytes != BYTES:
        raise VmError(f"stream carried {nbytes} bytes, expected {BYTES}")
    # Exact unless a retransmission brought some payload twice past the hook.
    if counts["in_payload_bytes"] < BYTES or (retransmitted == 0 and
                                              counts["in_payload_bytes"] != BYTES):
        raise VmError(f"module saw {counts['in_payload_bytes']} payload bytes in, "
                      f"{BYTES} were sent ({retransmitted} retransmissions)")

    stream = TcpStream(a, b, PORT + 1, nbytes=0, rate=2_000_000, user_timeout_ms=3000)
    stream.expect_moving()
    b.panic()
    ended = stream.wait_sender_failed(timeout=30, reason="Connection timed out")
    print(f"{nbytes} bytes intact, module counted {counts['in_payload_bytes']} in; "
          f"after b's panic: {ended}")
