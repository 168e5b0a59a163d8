"""A TCP stream between two guests (tcpfo-vm-stream), watched from the host."""
import re
import time

from .errors import VmError
from .waiting import wait_until

_RESULT = re.compile(r"^(sent|received) (\d+) bytes fnv64 ([0-9a-f]{16})$", re.M)


def parse_result(guest, output):
    """(bytes, hash) from a tool's "<sent|received> N bytes fnv64 H" line."""
    match = _RESULT.search(output)
    if not match:
        raise VmError(f"{guest.name}: no result line in tool output: {output.strip()[-200:]!r}")
    return int(match.group(2)), match.group(3)


class TcpStream:
    """`sender` streams `nbytes` (0: until it fails) to `receiver`:`port`.

    rate: bytes/s the sender paces itself to (None: as fast as it can), so a stall is
    visible in the receiver's byte count. user_timeout_ms: TCP_USER_TIMEOUT on the
    sender, so a dead peer ends the stream within seconds instead of ~15 minutes.
    """

    def __init__(self, sender, receiver, port=5001, nbytes=0, rate=None, user_timeout_ms=None):
        self.sender, self.receiver, self.port = sender, receiver, port
        self._recv_progress = f"/tmp/stream{port}.recv"
        self._send_progress = f"/tmp/stream{port}.send"
        receiver.run(f"rm -f {self._recv_progress}")
        self._receiver_job = receiver.spawn(
            f"tcpfo-vm-stream recv --port {port} --progress {self._recv_progress}")
        wait_until(lambda: receiver.run(f"test -e {self._recv_progress}")[0] == 0, 20,
                   f"{receiver.name} to listen on port {port}")
        options = f" --rate {rate}" if rate else ""
        options += f" --user-timeout {user_timeout_ms}" if user_timeout_ms else ""
        self._sender_job = sender.spawn(
            f"tcpfo-vm-stream send --to {receiver.address} --port {port} --bytes {nbytes}"
            f"{options} --progress {self._send_progress}")

    def received(self):
        """Bytes the receiving application has read so far."""
        rc, text = self.receiver.run(f"cat {self._recv_progress}")
        if rc != 0:
            raise VmError(f"{self.receiver.name}: no progress file {self._recv_progress}")
        return int(text.strip() or 0)

    def wait_received(self, at_least, timeout):
        return wait_until(lambda: self.received() >= at_least, timeout,
                          f"{self.receiver.name} to have received {at_least} bytes", 0.2)

    def expect_moving(self, timeout=15):
        """Waits until the receiver reads more than it had when called."""
        start = self.received()
        wait_until(lambda: self.received() > start, timeout,
                   f"the stream to {self.receiver.name} to move on from {start} bytes", 0.2)

    def settle(self, quiet=0.5, timeout=20):
        """Waits until the receiver's count has not moved for `quiet` seconds: the data
        in flight when the sender was stopped has arrived. A fixed half-second was not
        always enough on a loaded host (the receiving guest's vCPU waits for a core
        too). Returns the settled count."""
        last, since = self.received(), time.monotonic()

        def quiet_long_enough():
            nonlocal last, since
            now_count = self.received()
            if now_count != last:
                last, since = now_count, time.monotonic()
            return time.monotonic() - since >= quiet
        wait_until(quiet_long_enough, timeout,
                   f"the stream to {self.receiver.name} to stop moving (at {last} bytes)", 0.1)
        return last

    def expect_stalled(self, seconds):
        """Asserts the receiver reads nothing for `seconds`, once the data already in
        flight has arrived (settle). The window is the measurement, not a blind wait."""
        before = self.settle()
        time.sleep(seconds)
        after = self.received()
        if after != before:
            raise VmError(f"stream to {self.receiver.name} moved from {before} to {after} bytes "
                          f"while it should have stalled")
        return before

    def wait_complete(self, timeout):
        """Both ends finish and agree on the bytes and the checksum: (bytes, hash)."""
        sent = parse_result(self.sender, self._sender_job.wait_success(timeout))
        received = parse_result(self.receiver, self._receiver_job.wait_success(timeout))
        if sent != received:
            raise VmError(f"sent {sent[0]} bytes fnv64 {sent[1]} but received {received[0]} "
                          f"bytes fnv64 {received[1]}")
        return sent

    def wait_sender_failed(self, timeout, reason):
        """The sender ends with an error whose text contains `reason`; returns it."""
        rc, output = self._sender_job.wait(timeout)
        if rc == 0:
            raise VmError(f"{self.sender.name}: the stream completed although its peer is gone")
        if reason not in output:
            raise VmError(f"{self.sender.name}: sender failed, but not with '{reason}': "
                          f"{output.strip()[-200:]}")
        return output.strip()


def tcp_counters(guest):
    """The guest's TCP MIB (/proc/net/snmp "Tcp:" lines) as a dict."""
    lines = [l.split() for l in guest.check("cat /proc/net/snmp").splitlines()
             if l.startswith("Tcp:")]
    if len(lines) != 2:
        raise VmError(f"{guest.name}: no Tcp: lines in /proc/net/snmp")
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:])}
