"""One QEMU guest: its emulator process, its command agent, and the crash primitives.

Every crash primitive is one call: panic(), freeze()/thaw(), power_off(),
link_down()/link_up(), netem(spec)/netem_clear().
"""
import ctypes
import os
import shlex
import signal
import subprocess
import time

from .agent import AgentChannel
from .errors import VmError
from .qmp import Qmp
from .waiting import wait_until

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_harness():
    # If the harness is SIGKILLed (a ctest timeout), its emulators must not live on.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Guest:
    NIC = "nic0"  # QMP name of the guest's network card (set_link)
    NIC2 = "nic1"  # its second card, on the second segment (if the cluster has one)
    DEFAULT_MEMORY_MB = 256

    def __init__(self, index, name, address, image_dir, workdir, segment, accel,
                 memory_mb=DEFAULT_MEMORY_MB, address2=None, prefix2=28):
        self.index = index
        self.name = name
        self.address = address  # 192.0.2.x, without the prefix length
        self.address2 = address2  # on the second segment (eth1), or None
        self._prefix2 = prefix2
        self._image_dir = image_dir
        self._segment = segment
        self._accel = accel
        self._memory_mb = memory_mb
        self.console_path = os.path.join(workdir, f"{name}.console.log")
        self._stderr_path = os.path.join(workdir, f"{name}.qemu.log")
        self._qmp_path = os.path.join(workdir, f"{name}.qmp")
        self._agent_path = os.path.join(workdir, f"{name}.agent")
        self._proc = None
        self._qmp = None
        self._agent = None
        self._jobs = 0
        self.frozen = False  # between freeze() and thaw(): its agent cannot answer
        self.banner = ""
        self.boot_seconds = None  # emulator start to the first command's answer

    # --- lifecycle -------------------------------------------------------------

    def start(self):
        """Starts the emulator (from the main thread: PDEATHSIG follows the thread)."""
        tap = self._segment.add_tap(self.index)
        accel, cpu = self._accel
        mac = self.mac
        # no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check
        # can time out and panic at boot ("IO-APIC + timer doesn't work"; seen with
        # three guests booting beside a build). Cloud images boot with it too.
        cmdline = (f"console=ttyS0 quiet panic=-1 no_timer_check tcpfo.name={self.name} "
                   f"tcpfo.addr={self.address}/24")
        second_nic = []
        if self.address2:
            tap2 = self._segment.add_tap(self.index, second=True)
            cmdline += f" tcpfo.addr2={self.address2}/{self._prefix2}"
            second_nic = [
                "-netdev", f"tap,id=net1,ifname={tap2},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=net1,id={self.NIC2},mac={self.mac2},romfile=",
            ]
        argv = [
            "qemu-system-x86_64", "-name", self.name,
            "-nodefaults", "-no-user-config", "-display", "none",
            "-machine", f"q35,accel={accel}", "-cpu", cpu, "-smp", "1", "-m", str(self._memory_mb),
            "-kernel", os.path.join(self._image_dir, "vmlinuz"),
            "-initrd", os.path.join(self._image_dir, "initramfs.cpio"),
            "-append", cmdline,
            "-chardev", f"file,id=console,path={self.console_path}", "-serial", "chardev:console",
            "-qmp", f"unix:{self._qmp_path},server=on,wait=off",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={self._agent_path},server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=tcpfo.agent",
            "-netdev", f"tap,id=net0,ifname={tap},script=no,downscript=no",
            # romfile= : no iPXE option ROM, the guest boots from -kernel.
            "-device", f"virtio-net-pci,netdev=net0,id={self.NIC},mac={mac},romfile=",
            *second_nic,
            # A panic pauses the emulator (pvpanic) and the kernel state stays for
            # inspection, instead of a panicked vCPU spinning a host core.
            "-device", "pvpanic-pci", "-action", "panic=pause",
            "-no-reboot",
        ]
        self._started_at = time.monotonic()
        with open(self._stderr_path, "wb") as stderr:
            self._proc = subprocess.Popen(self._segment.wrap(argv), stdin=subprocess.DEVNULL,
                                          stdout=stderr, stderr=stderr,
                                          preexec_fn=_die_with_harness)

    def wait_ready(self, timeout=60):
        def sockets_up():
            self._check_alive("starting")
            return os.path.exists(self._qmp_path) and os.path.exists(self._agent_path)
        wait_until(sockets_up, timeout, f"{self.name}'s emulator sockets")
        self._qmp = Qmp(self._qmp_path)
        self._agent = AgentChannel(self._agent_path, self.name)
        self.banner = self._agent.wait_ready(timeout)
        self.check("true")
        self.boot_seconds = time.monotonic() - self._started_at
        if "modfail=none" not in self.banner:
            raise VmError(f"{self.name}: kernel modules failed to load: {self.banner}")

    def _check_alive(self, doing):
        if self._proc.poll() is not None:
            with open(self._stderr_path, errors="replace") as f:
                last = (f.read().strip().splitlines() or ["(no output)"])[-1]
            raise VmError(f"{self.name}: emulator exited ({self._proc.returncode}) while "
                          f"{doing}: {last}")

    def alive(self):
        return self._proc is not None and self._proc.poll() is None

    def kill(self):
        """Teardown: the emulator goes, whatever state the guest is in."""
        for channel in (self._agent, self._qmp):
            if channel:
                channel.close()
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
        if self._proc:
            self._proc.wait()

    def console(self):
        try:
            with open(self.console_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # --- commands --------------------------------------------------------------

    def run(self, command, timeout=60):
        """Runs a shell command in the guest: (exit code, stdout+stderr)."""
        if self._agent is None:
            raise VmError(f"{self.name}: not booted")
        return self._agent.run(command, timeout)

    def check(self, command, timeout=60):
        """Runs a command that must succeed; returns its output."""
        rc, output = self.run(command, timeout)
        if rc != 0:
            last = (output.strip().splitlines() or ["(no output)"])[-1]
            raise VmError(f"{self.name}: '{command}' exited {rc}: {last}")
        return output

    def spawn(self, command):
        """Starts a command in the background; returns a Job to poll or wait for."""
        self._jobs += 1
        return Job(self, f"job{self._jobs}", command)

    # --- crash primitives -----------------------------------------------------

    def panic(self, timeout=30):
        """Kernel panic (sysrq c). Returns once the emulator reports the panic."""
        self._agent.send_without_reply("echo c > /proc/sysrq-trigger")
        self._agent = None

        def panicked():
            if not self.alive():
                return "emulator exited"
            return self._qmp.command("query-status")["status"] == "guest-panicked"
        wait_until(panicked, timeout, f"{self.name} to panic")
        if "Kernel panic" not in self.console():
            raise VmError(f"{self.name}: no 'Kernel panic' line on the console after sysrq c")

    def freeze(self, clock_runs=False):
        """Stops the guest: it keeps all its state but does nothing.

        clock_runs=False: QMP stop. QEMU stops the guest's clocks with its vCPUs (the
        virtual clock behind its TSC, HPET and ACPI timer; KVM's kvmclock does the
        same), so after the thaw the guest has not seen the time it was stopped.
        clock_runs=True: SIGSTOP to the emulator, as a host that does not schedule it:
        its clocks follow the host's, and after the thaw they have jumped by the time
        it was stopped. Frames sent to it wait on its tap either way."""
        if clock_runs:
            self._proc.send_signal(signal.SIGSTOP)
        else:
            self._qmp.command("stop")
        self.frozen = "sigstop" if clock_runs else "qmp"

    def thaw(self):
        if self.frozen == "sigstop":
            self._proc.send_signal(signal.SIGCONT)
        else:
            self._qmp.command("cont")
        self.frozen = False

    def responsive(self):
        """Whether its agent can answer: booted, not panicked, powered off or frozen."""
        return self._agent is not None and not self.frozen and self.alive()

    @property
    def tap(self):
        """The host end of its network cable (in the segment's namespace)."""
        return self._segment.tap_of(self.index)

    def segment_wrap(self, argv):
        """`argv` run in the namespace of its L2 segment (a capture on its tap)."""
        return self._segment.wrap(argv)

    @property
    def mac(self):
        return f"52:54:00:7c:f0:{self.index + 1:02x}"

    @property
    def mac2(self):
        return f"52:54:00:7d:f0:{self.index + 1:02x}"

    def power_off(self):
        """Power loss: the emulator is killed, nothing in the guest gets to react."""
        self._agent = None
        self._proc.kill()
        self._proc.wait()

    def link_down(self, second=False):
        """Cuts the guest's network cable (QMP set_link): both directions drop.
        second=True: the cable of its second card (the second segment) instead."""
        self._qmp.command("set_link", name=self.NIC2 if second else self.NIC, up=False)

    def link_up(self, second=False):
        self._qmp.command("set_link", name=self.NIC2 if second else self.NIC, up=True)

    # By full path: busybox sh runs its own applets (a tc without netem) before PATH.
    TC = "/usr/local/bin/tc"

    def netem(self, spec):
        """Loss/delay on the guest's egress: netem(\"delay 100ms loss 5%\")."""
        self.check(f"{self.TC} qdisc replace dev eth0 root netem {spec}")

    def netem_clear(self):
        self.check(f"{self.TC} qdisc del dev eth0 root")

    # --- kernel modules -------------------------------------------------------

    def load_module(self, name, **params):
        args = " ".join(f"{k}={v}" for k, v in params.items())
        self.check(f"insmod /lib/modules/tcpfo/{name}.ko {args}")

    def unload_module(self, name):
        self.check(f"rmmod {name}")


class Job:
    """A command running in the background in a guest, its output kept in /tmp."""

    def __init__(self, guest, name, command):
        self.guest = guest
        self.command = command
        self._out = f"/tmp/{name}.out"
        self._rc = f"/tmp/{name}.rc"
        guest.check(f"( sh -c {shlex.quote(command)} > {self._out} 2>&1; "
                    f"echo $? > {self._rc}.tmp; mv {self._rc}.tmp {self._rc} ) "
                    f"> /dev/null 2>&1 &")

    @property
    def output_path(self):
        """Where in the guest its output goes."""
        return self._out

    @property
    def rc_path(self):
        """The file in the guest that holds its exit code once it has finished."""
        return self._rc

    def output(self):
        """What the command has printed so far."""
        return self.guest.run(f"cat {self._out} 2>/dev/null")[1]

    def result(self):
        """(exit code, output) once finished, else None."""
        rc, text = self.guest.run(f"cat {self._rc} 2>/dev/null && cat {self._out}")
        if rc != 0:
            return None
        code, _, output = text.partition("\n")
        return int(code), output

    def wait(self, timeout):
        return wait_until(self.result, timeout, f"{self.guest.name}: '{self.command}' to finish",
                          interval=0.2)

    def wait_success(self, timeout):
        rc, output = self.wait(timeout)
        if rc != 0:
            last = (output.strip().splitlines() or ["(no output)"])[-1]
            raise VmError(f"{self.guest.name}: '{self.command}' exited {rc}: {last}")
        return output
