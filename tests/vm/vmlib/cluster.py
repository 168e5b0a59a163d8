"""Boots N guests on one L2 segment and tears everything down afterwards.

    with Cluster(image_dir) as cluster:
        a, b = cluster.boot("a", "b")      # a = 192.0.2.11, b = 192.0.2.12
        b.check("...")
"""
import os
import shutil
import tempfile

from .accel import choose_accel
from .errors import VmError
from .guest import Guest
from .segment import L2Segment, remove_stale_segments

FIRST_HOST = 11  # guest i gets 192.0.2.(11 + i); 192.0.2.100 stays free for the VIP
# On a second segment guest i also gets 192.0.2.(211 + i)/28: a prefix inside the
# first segment's /24 but longer, so those addresses route through eth1 (and the VIP,
# outside it, never does).
SECOND_HOST = 211
SECOND_PREFIX = 28


class Cluster:
    def __init__(self, image_dir, keep_workdir=False):
        for needed in ("vmlinuz", "initramfs.cpio"):
            if not os.path.isfile(os.path.join(image_dir, needed)):
                raise VmError(f"no guest image in {image_dir} (missing {needed}): build it "
                              f"with scripts/build.sh (target vm-image)")
        self.image_dir = image_dir
        self.accel = choose_accel()
        self.guests = []
        self._keep = keep_workdir
        self.workdir = tempfile.mkdtemp(prefix=f"tcpfo-vm-{os.getpid()}-")
        self._segment = None
        # Callables returning text that explains a failure (a helper's daemon logs):
        # run_scenario prints them after "FAIL", while the guests still run.
        self.diagnostics = []

    def boot(self, *names, timeout=90, memory_mb=None, second_segment=False):
        """Boots one guest per name, all at once; returns them in order. memory_mb:
        the guests' RAM in MiB (the image unpacks into it), one number for all of
        them or {name: MiB} for some (the others get Guest.DEFAULT_MEMORY_MB).
        second_segment: each guest also gets eth1 on a second bridge, address
        192.0.2.(211 + i) (guest.address2)."""
        if not isinstance(memory_mb, dict):
            memory_mb = {name: memory_mb for name in names}
        if self._segment is None:
            remove_stale_segments()
            self._segment = L2Segment()
        new = []
        for name in names:
            index = len(self.guests)
            guest = Guest(index, name, f"192.0.2.{FIRST_HOST + index}", self.image_dir,
                          self.workdir, self._segment, self.accel,
                          memory_mb.get(name) or Guest.DEFAULT_MEMORY_MB,
                          address2=(f"192.0.2.{SECOND_HOST + index}" if second_segment else None),
                          prefix2=SECOND_PREFIX)
            self.guests.append(guest)
            new.append(guest)
            guest.start()
        for guest in new:
            guest.wait_ready(timeout)
        return new

    def close(self):
        for guest in self.guests:
            guest.kill()
        if self._segment:
            self._segment.destroy()
        if not self._keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
