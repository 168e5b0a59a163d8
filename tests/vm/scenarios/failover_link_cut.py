"""Failover through a crash made of a link cut then a power loss (DESIGN.md, "Test
topology": a crash is a crash, the link goes first). p's cable is pulled mid-stream
(QMP set_link), then its emulator is killed once b has declared it dead, so nothing p
held back can leak out between the cut and the kill. b must take over and rebuild
both connections; the client verifies every byte with no reset.
"""
from vmlib.failover import Failover


def run(cluster, backend="bpf"):
    fo = Failover(cluster, backend)
    streams = fo.start_streams()
    fo.wait_mid_stream(streams)
    fo.p.link_down()
    fo.wait_takeover(streams.conns)
    fo.p.power_off()
    fo.expect_takeover(streams)
