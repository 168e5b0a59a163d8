#!/usr/bin/env python3
"""Boots guests by hand and runs commands in them, to try things out before writing
a scenario:

    tests/vm/vm_shell.py [--image DIR] a b      # guests a=192.0.2.11, b=192.0.2.12
    a> ip addr show eth0
    b> tcpfo-vm-stream recv --port 5001 &
    a> !freeze        (also !thaw !panic !power_off !link_down !link_up)

A line is "<guest>> <command>" (or just "<command>" for the previous guest); a
"!" command calls the crash primitive of that name. End with Ctrl-D: everything is
torn down.
"""
import argparse
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
# No __pycache__ in the source tree: the harness is run from the checkout.
sys.dont_write_bytecode = True

from vmlib.cluster import Cluster  # noqa: E402
from vmlib.errors import VmError  # noqa: E402

PRIMITIVES = ("freeze", "thaw", "panic", "power_off", "link_down", "link_up", "netem_clear")


def main():
    parser = argparse.ArgumentParser(description="boot test guests and run commands in them")
    parser.add_argument("--image", default=os.path.join(here, "..", "..", "build", "vm-images",
                                                        "guest"))
    parser.add_argument("names", nargs="+", help="guest names, one per guest")
    args = parser.parse_args()
    try:
        with Cluster(os.path.abspath(args.image)) as cluster:
            guests = {g.name: g for g in cluster.boot(*args.names)}
            for g in guests.values():
                print(f"{g.name}: {g.address}, booted in {g.boot_seconds:.1f}s")
            current = args.names[0]
            for line in sys.stdin:
                name, sep, command = line.partition(">")
                if sep and name.strip() in guests:
                    current, command = name.strip(), command
                else:
                    command = line
                command = command.strip()
                if not command:
                    continue
                guest = guests[current]
                try:
                    if command.startswith("!"):
                        primitive = command[1:].split()[0]
                        if primitive not in PRIMITIVES:
                            print(f"unknown primitive {primitive} (have: {', '.join(PRIMITIVES)})")
                            continue
                        getattr(guest, primitive)()
                    else:
                        rc, output = guest.run(command)
                        print(output, end="" if output.endswith("\n") or not output else "\n")
                        print(f"[{current}: exit {rc}]")
                except VmError as e:
                    print(f"error: {e}")
    except VmError as e:
        print(f"vm_shell: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
