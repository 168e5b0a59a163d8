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
    stalled_at = stream.expect_stalled(1.5)
    if stalled_at >= BYTES:
        raise VmError("the stream finished before the cut: nothing was tested")
    a.link_up()
    restored = time.monotonic()
    stream.expect_moving(timeout=15)
    resumed_after = time.monotonic() - restored
    nbytes, _ = stream.wait_complete(timeout=60)
    print(f"cut at {stalled_at} bytes, moving {resumed_after:.1f}s after the restore, "
          f"{nbytes} bytes arrived intact")
