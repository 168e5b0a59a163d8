"""Chooses KVM when it really works on this host, software emulation (TCG) otherwise.

/dev/kvm existing is not enough: inside some nested hosts QEMU opens it, then aborts
while setting up the vCPU ("failed to set MSR ..."). So a short-lived QEMU is started
with KVM, and KVM counts as working only if that QEMU is still running a moment later.
TCPFO_VM_ACCEL=kvm|tcg skips the probe.
"""
import os
import subprocess
import time

_cached = None


def _kvm_runs():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    probe = subprocess.Popen(
        ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
         "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "64"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if probe.poll() is not None:
                return False
            time.sleep(0.05)
        return True
    finally:
        if probe.poll() is None:
            probe.kill()
        probe.wait()


def choose_accel():
    """Returns ("kvm", "host") or ("tcg", "max"): the accelerator and CPU model."""
    global _cached
    if _cached is None:
        forced = os.environ.get("TCPFO_VM_ACCEL", "")
        if forced not in ("", "kvm", "tcg"):
            raise ValueError(f"TCPFO_VM_ACCEL={forced}: expected kvm or tcg")
        use_kvm = forced == "kvm" or (forced == "" and _kvm_runs())
        # TCG's "max" model has SSE4.2 and the rest the cloud kernel's modules expect.
        _cached = ("kvm", "host") if use_kvm else ("tcg", "max")
    return _cached
