"""A minimal QMP client: the emulator-side crash primitives (stop, cont, set_link)."""
import json
import socket

from .errors import VmError


class Qmp:
    def __init__(self, path, timeout=10.0):
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._file = self._sock.makefile("rwb")
        self._read_message()  # the greeting
        self.command("qmp_capabilities")

    def _read_message(self):
        line = self._file.readline()
        if not line:
            raise VmError("QMP connection closed (the emulator exited?)")
        return json.loads(line)

    def command(self, execute, **arguments):
        request = {"execute": execute}
        if arguments:
            request["arguments"] = arguments
        self._file.write(json.dumps(request).encode() + b"\n")
        self._file.flush()
        while True:
            reply = self._read_message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise VmError(f"QMP {execute} failed: {reply['error'].get('desc', reply)}")
            # Anything else is an asynchronous event (STOP, RESUME, GUEST_PANICKED...).

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
