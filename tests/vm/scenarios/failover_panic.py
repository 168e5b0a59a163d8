"""Failover through a kernel panic of the primary (the CI smoke scenario).

    c (witness) ──► VIP 192.0.2.100:7000 ── p (node 1, primary: echo service, failoverd)
                                          └ b (node 2, backup: replica, failoverd)

Two echo connections stream through the VIP; when each has 1 MiB verified, p's kernel
panics (sysrq c). b must take over and rebuild both, and the client must verify every
byte with no reset (b is elected once p's lease has run out: the witness runs on c).
A regression of failoverd or the hooks that loses, corrupts or resets a byte fails
here on a real kernel (Debian's 6.1 cloud kernel, not the host's).
"""
from vmlib.failover import Failover


def run(cluster, backend="bpf"):
    fo = Failover(cluster, backend)
    streams = fo.start_streams()
    fo.wait_mid_stream(streams)
    fo.p.panic()
    fo.expect_takeover(streams)
