"""Power loss (the receiver's emulator is killed): the sender's stream ends with a
timeout, nothing answers for the dead guest."""
from vmlib.errors import VmError
from vmlib.streams import TcpStream


def run(cluster):
    a, b = cluster.boot("a", "b")
    stream = TcpStream(a, b, nbytes=0, rate=2_000_000, user_timeout_ms=3000)
    stream.expect_moving()
    b.power_off()
    if b.alive():
        raise VmError("b's emulator is still running after power_off")
    print(stream.wait_sender_failed(timeout=30, reason="Connection timed out"))
