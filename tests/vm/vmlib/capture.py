"""Counting what a guest puts on the wire, from the host end of its cable.

    with TapCapture(p, "tcp and src host 192.0.2.100 and src port 7000") as cap:
        ...
    cap.count()        # frames p sent that matched, while the capture ran

tcpdump runs in the segment's namespace on the guest's tap and keeps only frames
with the guest's own MAC as source, so a frame another guest sends with the same IP
source (the VIP, after a takeover) is not counted.
"""
import ctypes
import os
import signal
import subprocess
import time

from .errors import VmError
from .waiting import wait_until

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_harness():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class TapCapture:
    def __init__(self, guest, bpf_filter, workdir="/tmp"):
        self.guest = guest
        self.filter = f"ether src {guest.mac} and ({bpf_filter})"
        self._out = os.path.join(workdir, f"capture-{guest.name}-{os.getpid()}-{time.monotonic_ns()}.txt")
        self._err = self._out + ".err"
        self._proc = None

    def start(self):
        with open(self._out, "wb") as out, open(self._err, "wb") as err:
            # -l: a line per frame as it comes; -n: no name look-ups; -tt: epoch stamps.
            self._proc = subprocess.Popen(
                self.guest.segment_wrap(["tcpdump", "-n", "-l", "-tt", "-i", self.guest.tap,
                                         self.filter]),
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=_die_with_harness)

        def listening():
            if self._proc.poll() is not None:
                raise VmError(f"tcpdump on {self.guest.tap} exited: {self._read(self._err)[-200:]}")
            return "listening on" in self._read(self._err)
        wait_until(listening, 10, f"tcpdump to listen on {self.guest.name}'s tap")
        return self

    def stop(self):
        """Stops the capture (the frames it has printed so far stay countable)."""
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def lines(self):
        return [l for l in self._read(self._out).splitlines() if l.strip()]

    def count(self):
        return len(self.lines())

    def close(self):
        self.stop()
        for path in (self._out, self._err):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
