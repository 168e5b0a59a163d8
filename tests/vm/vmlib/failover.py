"""A failover in guests: tcpfo's failoverd on a primary and a backup, checksummed
streams from a client through the VIP, and the checks after a crash of the primary.

    c (192.0.2.11) ── client: tcpfo-stream-client echo --connect 192.0.2.100:7000;
                      node 3, the witness: failoverd --witness
    p (192.0.2.12) ── node 1, primary: VIP 192.0.2.100, echo service :7000
    b (192.0.2.13) ── node 2, backup: replica :7000, failoverd ... --replica 127.0.0.1:7000

mode "witness" (the default): p and b are described the symmetric way (--id, --node
1..3, --witness-id 3, --lease-ms), so the primary speaks only under a lease a majority
renews and b takes over only once elected (docs/architecture.md, "Leases and fencing").
mode "two-node": the --role/--listen/--peer shorthand, which implies --two-node (no
witness, no leases), kept so that the shorthand is still run in guests.

    fo = Failover(cluster)             # boots c, p, b; services and daemons ready
    streams = fo.start_streams()       # 2 echo connections, every byte verified
    fo.wait_mid_stream(streams)        # held at 1 MiB: p protects both (hooks at work),
                                       # b holds both; resumed, 0.5 MiB more verified
    fo.p.panic()                       # any crash primitive
    fo.expect_takeover(streams)        # b took over, rebuilt both; the client saw no
                                       # corrupt, lost or reset byte in 6 MiB each

backend: "bpf" (the eBPF programs) or "kmod" (tcpfo.ko loaded on p and b, failoverd
--hooks kmod on both); each failover scenario runs once per backend.

transport: "tcp" (the default) or "sctp": the guests then get a second segment (eth1,
192.0.2.21x/28) and failoverd replicates over SCTP on both, heartbeats on both too
(--listen ADDR,ADDR2 --peer ADDR,ADDR2 --transport sctp). The second segment's
address is given first, so the association's primary path is the segment that carries
replication only: cutting p's second cable (p.link_down(second=True)) takes the path
the stream is on, and SCTP must move it to the first segment.
"""
import json
import re

from .errors import VmError
from .waiting import wait_until

VIP = "192.0.2.100"
PORT = 7000
REPLICATION_PORT = 7100
BACKENDS = ("bpf", "kmod")
TRANSPORTS = ("tcp", "sctp")
MODES = ("witness", "two-node")
# Node ids of the symmetric form: equal priorities, so the lowest id (p) starts as the
# primary; the witness is the client's guest, a third machine that holds no VIP.
PRIMARY_ID, BACKUP_ID, WITNESS_ID = 1, 2, 3

# Detection suited to a TCG guest. failoverd's default (10 ms x 3: 30 ms) assumes a
# node that runs when it should; three emulated vCPUs on two host cores, beside other
# work, are descheduled for tens to hundreds of ms, and a backup that misses 30 ms of
# heartbeats takes over from a live primary. 100 ms x 10: the primary is declared dead
# 1 s after its last heartbeat, which is also what a crash costs the client here.
HEARTBEAT_MS = 100
DEAD_AFTER = 10
# The lease (--lease-ms, on all three nodes): the shortest the timing rule allows,
# failure detection (heartbeat x dead-after, 1 s). A primary keeps it while a grant of a
# heartbeat sent within the last 990 ms comes back: it survives nine lost or late
# heartbeats in a row, the same slack the backup's detection gives: a primary falls
# silent on its own only when its backup would soon take it for dead anyway (a longer
# lease would lengthen every failover: the election waits for the witness's promise to
# run out). Under heavy load lapses that came back within 0.5 s were still seen;
# docs/testing.md, "The failover scenarios", says what was measured with it.
LEASE_MS = HEARTBEAT_MS * DEAD_AFTER
# The guests' RAM: the image (~25 MB, unpacked into RAM), failoverd and the services
# fit in the default 256 MiB with ~100 MiB to spare; the daemons' nodes get more so a
# larger stream or more connections never meet the OOM killer first.
NODE_MEMORY_MB = 384

_SUMMARY = re.compile(r"^stream-client .*$", re.M)


def _fields(line):
    return dict(word.split("=", 1) for word in line.split() if "=" in word)


class Failover:
    """Boots the three guests and starts the service and failoverd on p and b.

    with_backup=False starts neither the replica nor failoverd on b: a negative
    control, with which every failover scenario must fail (it does: the primary is
    never ready, since it waits for its backup)."""

    def __init__(self, cluster, backend="bpf", heartbeat_ms=HEARTBEAT_MS,
                 dead_after=DEAD_AFTER, with_backup=True, transport="tcp", guests=None, mode="witness",
                 lease_ms=LEASE_MS):
        if backend not in BACKENDS:
            raise VmError(f"failover backend '{backend}' does not exist (have: "
                          f"{', '.join(BACKENDS)})")
        if transport not in TRANSPORTS:
            raise VmError(f"transport '{transport}' does not exist (have: {', '.join(TRANSPORTS)})")
        if mode not in MODES:
            raise VmError(f"failover mode '{mode}' does not exist (have: {', '.join(MODES)})")
        self.backend = backend
        self.transport = transport
        self.mode = mode
        self.cluster = cluster
        # guests: (c, p, b) booted already (a scenario that runs failoverd more than
        # once in the same guests); they need the second segment for sctp.
        self.c, self.p, self.b = guests or cluster.boot(
            "c", "p", "b", memory_mb={"p": NODE_MEMORY_MB, "b": NODE_MEMORY_MB},
            second_segment=(transport == "sctp"))
        cluster.diagnostics.append(self.logs)
        timing = f"--heartbeat-ms {heartbeat_ms} --dead-after {dead_after}"
        self._control = "--control /tmp/failoverd.sock"
        self._common = (f"--vip {VIP}/24 --dev eth0 --port {PORT} {self._control} "
                        f"--ready-file /tmp/failoverd.ready {timing}"
                        + (" --hooks kmod" if backend == "kmod" else "")
                        + (" --transport sctp" if transport == "sctp" else ""))
        # The symmetric node list, the same on all three nodes (over SCTP p and b with
        # both their addresses; the witness, which only votes, with its first).
        self._nodes = " ".join(f"--node {node_id}={address}"
                               for node_id, address in ((PRIMARY_ID, self.node_addresses(self.p)),
                                                        (BACKUP_ID, self.node_addresses(self.b)),
                                                        (WITNESS_ID, f"{self.c.address}:{REPLICATION_PORT}")))
        self._witness_args = (f"--witness --id {WITNESS_ID} {self._nodes} {self._control} "
                              f"{timing} --lease-ms {lease_ms}"
                              + (" --transport sctp" if transport == "sctp" else ""))
        self._cluster_args = f"{self._nodes} --witness-id {WITNESS_ID} --lease-ms {lease_ms}"
        self.with_backup = with_backup
        self._jobs = {}
        self._start()

    # --- start -----------------------------------------------------------------

    def _daemon_args(self, node):
        """failoverd's arguments on p ("primary") or b ("backup")."""
        guest, peer, node_id = ((self.p, self.b, PRIMARY_ID) if node == "primary" else
                                (self.b, self.p, BACKUP_ID))
        if self.mode == "two-node":
            replica = f" --replica 127.0.0.1:{PORT}" if node == "backup" else ""
            return (f"--role {node} --listen {self.node_addresses(guest)} "
                    f"--peer {self.node_addresses(peer)}{replica} {self._common}")
        # Both get --replica: a node that starts as the primary but finds another one
        # serving joins it as a backup, and needs its replica then.
        return (f"--id {node_id} {self._cluster_args} --replica 127.0.0.1:{PORT} "
                f"{self._common}")

    def _start(self):
        p, b = self.p, self.b
        if self.mode == "witness":
            # The witness first: the primary claims the VIP once a quorum (itself and
            # the witness, or its backup) has granted it a lease.
            self._jobs["witness"] = self.c.spawn(f"exec failoverd {self._witness_args}")
            wait_until(lambda: self._died("witness") or
                       self.c.run(f"failoverctl {self._control} status")[0] == 0, 30,
                       f"the witness (failoverd --witness) on {self.c.name} to answer")
            self._check_running("witness")
        if self.backend == "kmod":
            for guest in (p, b):
                guest.load_module("tcpfo")
        self._jobs["service"] = p.spawn(f"exec tcpfo-echo-service --listen 0.0.0.0:{PORT}")
        wait_until(lambda: self._listening(p, PORT), 20, f"the echo service on {p.name}")
        if self.with_backup:
            self._jobs["replica"] = b.spawn(f"exec tcpfo-echo-service --listen 0.0.0.0:{PORT}")
            wait_until(lambda: self._listening(b, PORT), 20, f"the replica on {b.name}")
            # The backup first: the primary is ready once its backup is connected.
            self._jobs["backup"] = b.spawn(f"exec failoverd {self._daemon_args('backup')}")
            wait_until(lambda: self._replication_listening(b) or self._died("backup"), 30,
                       f"failoverd on {b.name} to listen on :{REPLICATION_PORT}")
            self._check_running("backup")
        self._jobs["primary"] = p.spawn(f"exec failoverd {self._daemon_args('primary')}")
        for node, guest in (("primary", p), ("backup", b)):
            if node in self._jobs:
                wait_until(lambda: guest.run("test -e /tmp/failoverd.ready")[0] == 0 or
                           self._died(node), 30, f"failoverd on {guest.name} to be ready")
                self._check_running(node)
        # Ready by their status too: the primary holds the VIP (and, with a witness, its
        # lease), its backup is live.
        status = self.status(p)
        if status.get("role") != "primary":
            raise VmError(f"{p.name}: failoverd's role is {status.get('role')!r}, not primary")
        if self.with_backup:
            if [peer.get("state") for peer in status.get("peers", [])] != ["live"]:
                raise VmError(f"{p.name}: its backup is not live: {json.dumps(status.get('peers'))}")
            if self.status(b).get("role") != "backup":
                raise VmError(f"{b.name}: failoverd is not a backup")
        lease = status.get("lease") or {}
        want_mode = "quorum" if self.mode == "witness" else "two-node"
        if lease.get("mode") != want_mode or (self.mode == "witness" and not lease.get("held")):
            raise VmError(f"{p.name}: expected lease mode {want_mode}"
                          f"{' and a lease held' if self.mode == 'witness' else ''}; its status "
                          f"says {json.dumps(lease)[:300]}")
        # The VIP may follow the first lease by a turn of the primary's loop.
        wait_until(lambda: self.holds_vip(p), 10, f"{p.name} (the primary) to hold {VIP}")

    def holds_vip(self, guest):
        return f" {VIP}/24 " in guest.check("ip -4 -o addr show dev eth0")

    def node_addresses(self, guest):
        """A node's --listen/--peer value: over SCTP both addresses, the second
        segment's first (see the module's docstring)."""
        if self.transport == "sctp":
            return f"{guest.address2},{guest.address}:{REPLICATION_PORT}"
        return f"{guest.address}:{REPLICATION_PORT}"

    def _replication_listening(self, guest):
        if self.transport == "sctp":
            # busybox netstat knows no SCTP: the kernel's endpoint table, LPORT column.
            return guest.run(f"awk '$6 == {REPLICATION_PORT}' /proc/net/sctp/eps | grep -q .")[0] == 0
        return self._listening(guest, REPLICATION_PORT)

    def stop(self):
        """Stops failoverd on p and b (SIGTERM, a graceful stop), then the services:
        the guests are as booted, and a new Failover(..., guests=...) can start in them
        (another transport, tests/vm/scenarios/transport_throughput.py)."""
        # The backup first: a primary that stopped first would be taken over.
        for node, guest in (("backup", self.b), ("primary", self.p)):
            if node in self._jobs:
                guest.run("killall failoverd")
                self._jobs[node].wait(30)
                del self._jobs[node]
        for name in ("replica", "service"):
            job = self._jobs.pop(name, None)
            if job is not None:
                job.guest.run("killall tcpfo-echo-service")
                job.wait(30)
        for guest in (self.p, self.b):
            guest.run("rm -f /tmp/failoverd.ready")
            if f" {VIP}/24 " in guest.check("ip -4 -o addr show dev eth0"):
                raise VmError(f"{guest.name} still holds {VIP} after failoverd stopped")

    @staticmethod
    def _listening(guest, port):
        # busybox netstat: "tcp 0 0 0.0.0.0:7000 0.0.0.0:* LISTEN"
        return guest.run(f"netstat -ltn | grep -q ':{port} '")[0] == 0

    def _died(self, node):
        return self._jobs[node].result() is not None

    def _check_running(self, node):
        if node not in self._jobs:
            return  # not started (with_backup=False)
        result = self._jobs[node].result()
        if result is not None:
            last = (result[1].strip().splitlines() or ["(no output)"])[-1]
            raise VmError(f"failoverd ({node}) exited {result[0]}: {last}")

    # --- status ------------------------------------------------------------------

    def status(self, guest):
        """`failoverctl status` on the guest, parsed."""
        text = guest.check("failoverctl --control /tmp/failoverd.sock status", timeout=20)
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise VmError(f"{guest.name}: failoverctl status is not JSON ({e}): {text[:200]!r}")

    def expect_protected(self, streams):
        """Just before a crash: p protects every connection and its BPF hooks work on
        this kernel (events seen, ACKs clamped), b holds every connection and is still
        a plain backup (a takeover that began before the crash would prove nothing)."""
        p_status = self.status(self.p)
        protected = [c for c in p_status.get("connections", []) if c.get("protected")]
        hooks = p_status.get("hooks", {})
        if len(protected) != streams.conns or not hooks.get("events") or \
                not hooks.get("acks_clamped"):
            raise VmError(f"{self.p.name}: expected {streams.conns} protected connection(s) and "
                          f"the hooks at work; it protects {len(protected)}, hooks "
                          f"{json.dumps(hooks)[:300]}")
        if not self.with_backup:
            return
        b_status = self.status(self.b)
        if b_status.get("role") != "backup" or b_status.get("takeover") is not None:
            raise VmError(f"{self.b.name} is no longer a plain backup before the crash: role "
                          f"{b_status.get('role')}, takeover "
                          f"{json.dumps(b_status.get('takeover'))}")
        if b_status.get("connection_count") != streams.conns:
            raise VmError(f"{self.b.name} holds {b_status.get('connection_count')} "
                          f"connection(s), expected {streams.conns}")

    # --- clients -----------------------------------------------------------------

    def start_streams(self, conns=2, nbytes=6 << 20, hold_at=1 << 20, rate_mb=1.0,
                      timeout_s=90, client_args=""):
        return Streams(self.c, conns, nbytes, hold_at, rate_mb, timeout_s, client_args)

    def wait_mid_stream(self, streams, flowing=512 << 10):
        """Waits for the moment to crash. The client holds every connection at its
        hold point: then both nodes' status is read (expect_protected; asking takes up
        to a second in a guest busy under TCG, so not while the streams run), the
        streams resume, and once each connection has `flowing` more bytes verified,
        with every one still sending, this returns: the crash primitive, called next,
        strikes with bytes in flight both ways."""
        streams.wait_held()
        self.expect_protected(streams)
        streams.resume()
        progress = streams.wait_verified(streams.hold_at + flowing)
        if progress.get("sent", 0) >= streams.conns * streams.nbytes:
            raise VmError(f"the streams sent all their bytes before the crash: it would meet "
                          f"idle connections ({progress})")

    # --- after the crash -----------------------------------------------------------

    def wait_takeover(self, expected_conns, timeout=60):
        """The backup took over and rebuilt every connection, none reset; returns its
        takeover record."""
        b = self.b

        def finished():
            self._check_running("backup")
            st = self.status(b)
            takeover = st.get("takeover") or {}
            return st if takeover.get("finished_us") else None
        st = wait_until(finished, timeout, f"{b.name} to report a finished takeover", 0.25)
        takeover = st["takeover"]
        got = (st.get("role"), takeover.get("rebuilt"), takeover.get("reset"))
        if got != ("taken-over-primary", expected_conns, 0):
            raise VmError(f"expected {b.name} taken-over-primary with {expected_conns} "
                          f"connection(s) rebuilt and 0 reset; it says role {got[0]}, rebuilt "
                          f"{got[1]}, reset {got[2]}: {json.dumps(takeover)[:400]}")
        if not self.holds_vip(b):
            raise VmError(f"{b.name} took over but does not hold {VIP}")
        return takeover

    def expect_takeover(self, streams):
        """The usual end of a crash scenario: the takeover, then every client byte."""
        takeover = self.wait_takeover(streams.conns)
        summary = streams.wait_all_verified()
        steps = ", ".join(f"{k} {takeover[k]}" for k in
                          ("claimed_ms", "learned_ms", "rebuilt_ms", "serving_ms")
                          if k in takeover)
        # The longest receive gap is the crash's: the streams are paced, nothing else
        # stalls them for long (no --crash-file: busybox's date has no nanoseconds,
        # and the guests' clocks are not the host's).
        print(f"takeover: {takeover.get('rebuilt')} rebuilt, {takeover.get('reset')} reset "
              f"({steps}); client: {summary['conns']} connection(s), {summary['verified']} "
              f"bytes verified, longest stall {summary.get('max_stall_ms')} ms")
        return takeover, summary

    def logs(self, lines=40):
        """The last lines of the daemons' output and their role and lease, from every
        guest that can still answer (a dead or frozen one cannot)."""
        out = []
        for node, guest in (("primary", self.p), ("backup", self.b), ("witness", self.c)):
            job = self._jobs.get(node)
            if job is None:
                continue
            if not guest.responsive():
                out.append(f"--- failoverd ({node}, {guest.name}): guest not answering")
                continue
            text = ""
            try:
                text = guest.run(f"tail -n {lines} {job.output_path}", timeout=10)[1]
                st = json.loads(guest.run(f"failoverctl {self._control} status", timeout=10)[1])
                text += (f"\nstatus: role {st.get('role')}, epoch {st.get('epoch')}, lease "
                         f"{json.dumps(st.get('lease'))}, hooks {json.dumps(st.get('hooks'))}")
            except (VmError, ValueError) as e:
                text += f"\n(unreadable: {e})"
            out.append(f"--- failoverd ({node}, {guest.name}), last {lines} lines\n{text.rstrip()}")
        return "\n".join(out)


class Streams:
    """`conns` echo connections from c through the VIP, each sending `nbytes` paced
    at `rate_mb` MB/s; tcpfo-stream-client verifies every byte in order and exits
    non-zero on any corrupted, lost, duplicated or reset byte.

    Each connection holds at `hold_at` bytes sent until resume(): the scenario reads
    the nodes' status while nothing moves, then resumes and crashes the primary with
    most of every stream still to come (it flows through the node that took over)."""

    PROGRESS = "/tmp/streams.progress"
    RESUME = "/tmp/streams.resume"
    PORTS = "/tmp/streams.ports"  # the client's local ports, once all are connected

    def __init__(self, client, conns, nbytes, hold_at, rate_mb, timeout_s, client_args=""):
        self.client, self.conns, self.nbytes, self.hold_at = client, conns, nbytes, hold_at
        client.run(f"rm -f {self.PROGRESS} {self.RESUME}")
        self._job = client.spawn(
            f"exec tcpfo-stream-client echo --connect {VIP}:{PORT} --conns {conns} "
            f"--bytes {nbytes} --rate {rate_mb} --pause-at {hold_at} "
            f"--resume-file {self.RESUME} --timeout-s {timeout_s} --ports-file {self.PORTS} "
            f"--progress-file {self.PROGRESS} --label vm {client_args}")

    def ports(self):
        """The client's local port of each connection."""
        return [int(p) for p in self.client.check(f"cat {self.PORTS}").split()]

    def resume(self):
        """Lets every connection send the rest of its bytes."""
        self.client.check(f"touch {self.RESUME}")

    def wait_held(self, timeout=60):
        """Every connection has sent and got back all its bytes up to the hold point."""
        def held():
            progress = self._poll()
            # paused 1: every connection is at the hold point with all its echo back.
            return progress.get("paused") == 1 and progress.get("slowest", 0) >= self.hold_at
        wait_until(held, timeout, f"each of {self.conns} connection(s) to hold at "
                   f"{self.hold_at} bytes, all verified", 0.2)

    def _check_running(self, seen=""):
        result = self._job.result()
        if result is not None:
            raise VmError(f"the client ended before the crash{seen}: {result[1].strip()[-300:]}")

    def _poll(self, seen=""):
        """The progress fields, read in the same round trip to the client's guest as
        whether the client has ended (then this raises): on a loaded host one round
        trip took seconds, and the window for the crash after the resume is the ~5 s
        the rest of the stream takes."""
        rc, text = self.client.run(f"test -e {self._job.rc_path} && echo ended; "
                                   f"cat {self.PROGRESS} 2>/dev/null")
        if text.startswith("ended"):
            self._check_running(seen)
        return self._parse_progress(text)

    def progress(self):
        """The client's progress fields (verified, slowest, finished, live, ...)."""
        rc, text = self.client.run(f"cat {self.PROGRESS} 2>/dev/null")
        return self._parse_progress(text)

    @staticmethod
    def _parse_progress(text):
        words = text.split()
        return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)
                if words[i + 1].isdigit()}

    def wait_verified(self, each_at_least, timeout=60):
        """Every connection has `each_at_least` bytes echoed and verified, and none is
        over; returns the progress fields that said so."""
        last = {"polls": 0, "progress": {}}

        def far_enough():
            seen = (f" ({last['polls']} look(s) at its progress before, the last "
                    f"{json.dumps(last['progress'])})")
            progress = self._poll(seen)
            last["polls"] += 1
            last["progress"] = progress
            return progress if (progress.get("slowest", 0) >= each_at_least and
                                progress.get("live", 0) == self.conns) else None
        return wait_until(far_enough, timeout,
                   f"each of {self.conns} connection(s) to have {each_at_least} bytes verified",
                   0.2)

    def wait_end(self, timeout=120):
        """(exit code, summary fields) once the client is over."""
        rc, output = self._job.wait(timeout)
        match = _SUMMARY.findall(output)
        if not match:
            raise VmError(f"{self.client.name}: the client printed no summary (exit {rc}): "
                          f"{output.strip()[-300:]!r}")
        return rc, _fields(match[-1]), output

    def wait_all_verified(self, timeout=120):
        """Every byte of every connection verified, no reset, no timeout."""
        rc, fields, output = self.wait_end(timeout)
        self.output = output
        bad = {k: fields.get(k) for k in ("failed", "resets", "corrupt", "early_eofs", "timeouts")
               if fields.get(k) != "0"}
        if rc != 0 or bad or fields.get("ok") != str(self.conns) or \
                fields.get("verified") != str(self.conns * self.nbytes):
            raise VmError(f"the client did not verify every byte (exit {rc}, "
                          f"{self.conns * self.nbytes} expected): {_SUMMARY.findall(output)[-1]}")
        return fields
