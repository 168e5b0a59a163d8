"""Freeze and thaw (QMP stop/cont): the stream stalls while the sender is frozen and
resumes, byte-exact, when it thaws."""
from vmlib.errors import VmError
from vmlib.streams import TcpStream

BYTES = 8 * 1024 * 1024


def run(cluster):
    a, b = cluster.boot("a", "b")
    stream = TcpStream(a, b, nbytes=BYTES, rate=2_000_000)
    stream.expect_moving()
    a.freeze()
    stalled_at = stream.expect_stalled(2.0)
    if stalled_at >= BYTES:
        raise VmError("the stream finished before the freeze: nothing was tested")
    a.thaw()
    stream.expect_moving(timeout=30)
    nbytes, _ = stream.wait_complete(timeout=60)
    print(f"froze at {stalled_at} bytes, resumed, {nbytes} bytes arrived intact")
