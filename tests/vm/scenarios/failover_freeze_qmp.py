"""failover_freeze with a QMP stop instead of a SIGSTOP of p's emulator: QEMU stops
the guest's clocks with its vCPUs, so the thawed p has not seen the time it was
stopped and still holds the rest of its lease (up to 1 s); its kernel answers the
segments that waited on its tap before its failoverd hears epoch 2 and falls silent.
Checked: p says it is silent and holds no VIP, sends nothing from VIP:7000 after it
said so, and the client verifies every byte with no reset; what p sent before is
printed (docs/architecture.md, "Known gaps").
"""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "failover_freeze", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "failover_freeze.py"))
_freeze = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_freeze)


def run(cluster, backend="bpf"):
    _freeze.run(cluster, backend, clock_runs=False)
