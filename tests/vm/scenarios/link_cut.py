"""Link cut and restore (QMP set_link): the stream stalls while the sender's cable is
out and resumes on its next retransmission once the link is back, without a reset
and without a byte lost."""
import time

from vmlib.errors import VmError
from vmlib.streams import TcpStream

BYTES = 8 * 1024 * 1024


def run(cluster):
    a, b = cluster.boot("a", "b")
    stream = TcpStream(a, b, nbytes=BYTES, rate=2_000_000)
    stream.expect_moving()
    a.link_down()
    cut = time.monotonic()
    stalled_at = stream.expect_stalled(1.5)
    if stalled_at >= BYTES:
        raise VmError("the stream finished before the cut: nothing was tested")
    a.link_up()
    restored = time.monotonic()
    # The sender retransmits with exponential backoff (RTO doubling from 200 ms), so
    # its next try comes at most about as long after the restore as the cable was out;
    # the cut lasts longer than planned when the host is busy (settling, agent calls).
    stream.expect_moving(timeout=max(15.0, 2 * (restored - cut) + 5))
    resumed_after = time.monotonic() - restored
    nbytes, _ = stream.wait_complete(timeout=60)
    print(f"cut at {stalled_at} bytes, moving {resumed_after:.1f}s after the restore, "
          f"{nbytes} bytes arrived intact")
