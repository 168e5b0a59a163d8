#!/usr/bin/env python3
"""Runs one QEMU crash-injection scenario (tests/vm/scenarios/<name>.py).

    tests/vm/run_scenario.py [--image DIR] [--timeout S] [--keep] [--backend bpf|kmod] NAME

Prints "PASS <name> ..." with the boot time of each guest and exits 0, or
"FAIL <name>: <reason>" with the end of each guest's console and exits 1. Everything
it created (emulators, namespace, taps, bridge, temporary files) is gone when it
returns, also on failure or timeout; --keep leaves the logs in the printed folder.
"""
import argparse
import importlib.util
import os
import signal
import sys
import time
import traceback

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
# No __pycache__ in the source tree: the harness is run from the checkout.
sys.dont_write_bytecode = True

from vmlib.cluster import Cluster  # noqa: E402
from vmlib.errors import VmError  # noqa: E402


def load_scenario(name):
    path = os.path.join(here, "scenarios", f"{name}.py")
    if not os.path.isfile(path):
        names = sorted(f[:-3] for f in os.listdir(os.path.join(here, "scenarios"))
                       if f.endswith(".py") and not f.startswith("_"))
        raise VmError(f"no scenario '{name}' (have: {', '.join(names)})")
    spec = importlib.util.spec_from_file_location(f"scenario_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_signal(signum, _frame):
    raise VmError(f"scenario stopped by {signal.Signals(signum).name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.path.join(here, "..", "..", "build", "vm-images",
                                                        "guest"),
                        help="guest image folder (default: build/vm-images/guest)")
    parser.add_argument("--timeout", type=float, default=150,
                        help="whole-scenario limit in seconds (default 150)")
    parser.add_argument("--keep", action="store_true", help="keep the consoles and logs")
    parser.add_argument("--backend", choices=("bpf", "kmod"),
                        help="the kernel hooks of a failover scenario (default: its own, bpf)")
    parser.add_argument("scenario")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run_scenario: must run as root (network namespace, taps)", file=sys.stderr)
        return 2

    started = time.monotonic()
    def on_timeout(_signum, _frame):
        # An exception, so a hung guest still ends in the cleanup below.
        raise VmError(f"scenario timed out after {args.timeout:.0f}s")
    signal.signal(signal.SIGALRM, on_timeout)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    cluster = None
    try:
        scenario = load_scenario(args.scenario)
        cluster = Cluster(os.path.abspath(args.image), keep_workdir=args.keep)
        if args.backend:
            scenario.run(cluster, backend=args.backend)
        else:
            scenario.run(cluster)
        signal.setitimer(signal.ITIMER_REAL, 0)
        boots = ", ".join(f"{g.name} {g.boot_seconds:.1f}s" for g in cluster.guests
                          if g.boot_seconds is not None)
        label = f"{args.scenario}{'.' + args.backend if args.backend else ''}"
        print(f"PASS {label} in {time.monotonic() - started:.1f}s "
              f"(accel {cluster.accel[0]}; boot to first command: {boots})")
        return 0
    except (VmError, OSError) as e:
        signal.setitimer(signal.ITIMER_REAL, 0)
        where = ""
        if isinstance(e, OSError):  # a socket to a guest (agent, QMP): say which call
            frame = traceback.extract_tb(e.__traceback__)[-1]
            where = f" ({os.path.basename(frame.filename)}:{frame.lineno} {frame.name})"
        print(f"FAIL {args.scenario}: {e}{where}")
        if cluster:
            for explain in cluster.diagnostics:
                try:
                    print(explain())
                except (VmError, OSError) as why:
                    print(f"(diagnostics unavailable: {why})")
            for guest in cluster.guests:
                tail = guest.console().strip().splitlines()[-15:]
                print(f"--- {guest.name} console (last {len(tail)} lines)")
                print("\n".join(tail))
        return 1
    except Exception as e:  # a harness bug: one line with where it happened
        signal.setitimer(signal.ITIMER_REAL, 0)
        frame = traceback.extract_tb(e.__traceback__)[-1]
        print(f"FAIL {args.scenario}: harness error {type(e).__name__}: {e} "
              f"({os.path.basename(frame.filename)}:{frame.lineno})")
        return 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if cluster:
            cluster.close()
            if args.keep:
                print(f"logs kept in {cluster.workdir}")


if __name__ == "__main__":
    sys.exit(main())
