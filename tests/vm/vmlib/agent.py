"""The host end of the guest's command agent (vm-images/guest/agent).

One command at a time over a virtio-serial port: the host writes
"<id> <base64 command>\\n", the guest answers "<id> <exit code> <base64 output>\\n".
"""
import base64
import select
import socket
import time

from .errors import VmError


class AgentChannel:
    def __init__(self, path, guest_name):
        self._name = guest_name
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._buffer = b""
        self._next_id = 1

    def _read_line(self, timeout, what):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VmError(f"{self._name}: timed out after {timeout:.0f}s waiting for {what}")
            ready, _, _ = select.select([self._sock], [], [], left)
            if ready:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise VmError(f"{self._name}: agent channel closed while waiting for {what}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace")

    def wait_ready(self, timeout):
        """Returns the guest's banner: "ready <name> uptime=<s> modfail=<list|none>"."""
        line = self._read_line(timeout, "the guest to boot")
        if not line.startswith("ready "):
            raise VmError(f"{self._name}: unexpected first line from the agent: {line!r}")
        return line

    def _send(self, command):
        request_id = self._next_id
        self._next_id += 1
        self._sock.sendall(f"{request_id} ".encode() +
                           base64.b64encode(command.encode()) + b"\n")
        return request_id

    def run(self, command, timeout):
        """Runs `command` with the guest's sh; returns (exit code, stdout+stderr)."""
        request_id = self._send(command)
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(max(0.0, deadline - time.monotonic()), f"'{command}'")
            parts = line.split(" ", 2)
            # The late answer to an earlier request that timed out (read after a
            # failure, for the diagnostics): skipped.
            if len(parts) >= 2 and parts[0].isdigit() and int(parts[0]) < request_id:
                continue
            break
        if len(parts) < 2 or parts[0] != str(request_id):
            raise VmError(f"{self._name}: agent answered {line[:80]!r} to request {request_id}")
        output = base64.b64decode(parts[2]).decode(errors="replace") if len(parts) > 2 else ""
        return int(parts[1]), output

    def send_without_reply(self, command):
        """For commands that never return (a panic): the channel is unusable after."""
        self._send(command)

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
