"""The guests' L2 segment: a bridge and one tap per guest inside a network namespace
the harness creates, so nothing appears in the host's own namespace. A cluster may
ask for a second segment (a second bridge in the same namespace, a second NIC per
guest): multihomed replication over SCTP.

    netns tcpfo-vm-<pid>-<rand>
      br-<rand> ── tap0-<rand> ── guest 0 (192.0.2.11)   eth0
                └─ tap1-<rand> ── guest 1 (192.0.2.12) ...
      br2-<rand> ─ tap0b-<rand> ─ guest 0 (192.0.2.211)  eth1 (second segment only)
                └─ tap1b-<rand> ─ guest 1 (192.0.2.212) ...

The emulators run inside that namespace (`ip netns exec`) so they can open the taps.
The namespace name carries the harness's PID: a namespace whose PID is gone was left
by a harness that was killed (SIGKILL gives no chance to clean up), and the next run
removes it.
"""
import os
import re
import secrets
import subprocess

from .errors import VmError

PREFIX = "tcpfo-vm-"


def _ip(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise VmError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def remove_stale_segments():
    """Deletes namespaces of earlier harness runs whose process no longer exists."""
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        match = re.fullmatch(re.escape(PREFIX) + r"(\d+)-[0-9a-f]+", name)
        if match and not _pid_alive(int(match.group(1))):
            _remove_namespace(name)


def _remove_namespace(name):
    pids = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
    _ip("netns", "delete", name, check=False)


class L2Segment:
    def __init__(self):
        self.suffix = secrets.token_hex(3)
        self.netns = f"{PREFIX}{os.getpid()}-{self.suffix}"
        self.bridge = f"br-{self.suffix}"
        self._taps = []
        _ip("netns", "add", self.netns)
        try:
            _ip("-n", self.netns, "link", "add", self.bridge, "type", "bridge")
            _ip("-n", self.netns, "link", "set", self.bridge, "up")
        except VmError:
            self.destroy()
            raise

    def add_tap(self, index, second=False):
        """Creates the tap for guest `index` on the bridge (second=True: on the second
        segment's bridge, made on first use); returns its name."""
        tap = self.tap_of(index, second)
        bridge = self.bridge
        if second:
            bridge = f"br2-{self.suffix}"
            if _ip("-n", self.netns, "link", "show", bridge, check=False).returncode != 0:
                _ip("-n", self.netns, "link", "add", bridge, "type", "bridge")
                _ip("-n", self.netns, "link", "set", bridge, "up")
        _ip("-n", self.netns, "tuntap", "add", "dev", tap, "mode", "tap")
        _ip("-n", self.netns, "link", "set", tap, "master", bridge, "up")
        self._taps.append(tap)
        return tap

    def tap_of(self, index, second=False):
        return f"tap{index}{'b' if second else ''}-{self.suffix}"

    def wrap(self, argv):
        """The command line that runs `argv` inside the segment's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def destroy(self):
        """Kills whatever still runs in the namespace and deletes it (taps, bridge)."""
        _remove_namespace(self.netns)
