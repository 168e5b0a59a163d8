"""failover_panic in two-node mode: p and b are started with the two-node shorthand
(--role/--listen/--peer, which implies --two-node: no witness, no leases), as before
the witness existed, so that the shorthand is still run on a real kernel. b takes over
after missing heartbeats alone (no election) and the client must verify every byte
with no reset.
"""
from vmlib.failover import Failover


def run(cluster, backend="bpf"):
    fo = Failover(cluster, backend, mode="two-node")
    streams = fo.start_streams()
    fo.wait_mid_stream(streams)
    fo.p.panic()
    fo.expect_takeover(streams)
