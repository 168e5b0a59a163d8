"""Failover through a power loss of the primary: p's emulator is SIGKILLed
mid-stream (nothing in the guest gets to react: no FIN, no RST, the replication
stream just goes silent). b must take over and rebuild both connections; the client
verifies every byte with no reset.
"""
from vmlib.errors import VmError
from vmlib.failover import Failover


def run(cluster, backend="bpf"):
    fo = Failover(cluster, backend)
    streams = fo.start_streams()
    fo.wait_mid_stream(streams)
    fo.p.power_off()
    if fo.p.alive():
        raise VmError("p's emulator is still running after power_off")
    fo.expect_takeover(streams)
