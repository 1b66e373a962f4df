"""CPU of every process of ``rabt serve`` and licensing's consumer: idle, and per pushed message.

    python benchmarks/serve_cpu.py                         # all roles in one master, 2 gateway processes
    python benchmarks/serve_cpu.py --split --count 1000    # each role in a process of its own
    python benchmarks/serve_cpu.py --broker sqlite --idle-seconds 30
    python benchmarks/serve_cpu.py --processes 1 --key-type ec --threads --count 3000 \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres   # end_to_end.py's hub, thread by thread

Starts the demo stack (``simulators.demo.stack.Stack``: simulators, ``rabt
serve``, licensing's web app and consumer) in a fresh temporary RABT_HOME with
its own queue prefix, lets it settle, then reads each process's CPU time
(user + system, ``/proc/<pid>/stat``) before and after

1. **idle** — ``--idle-seconds`` with nothing sent: what each process burns
   waiting (ms of CPU per second of wall time, i.e. thousandths of a core);
2. **load** — ``--count`` signed police border notifications posted to the
   gateway until licensing applied them all (``end_to_end_load.throughput``,
   after 30 pushed off the books so that every process has compiled its
   mappings and schemas): ms of CPU per applied message of each process.

Every process is listed on its own line — the ``rabt serve`` master and each
of its gateway and watcher children, or with ``--split`` one process per role
(the relay's process also runs the ``receipts`` role); with ``--threads`` each
thread of the hub's processes too (``thread_cpu``). CPU time, not wall
time, because the machine is shared. Progress goes to stderr, figures to stdout.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from end_to_end_floor import proc_table
from end_to_end_load import Load, progress, throughput
from end_to_end_stack import BenchStack, fresh_postgres
from thread_cpu import by_thread, py_spy, thread_names, thread_seconds
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem
from simulators.population import Population, PopulationSpec


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=DEFAULT_AMQP_URL, help="amqp://… (default) or 'sqlite' (embedded)")
    parser.add_argument("--processes", type=int, default=2, help="rabt serve --processes (gateway processes)")
    parser.add_argument("--split", action="store_true", help="one rabt serve process per role instead")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="how long the idle reading lasts")
    parser.add_argument("--settle-seconds", type=float, default=5.0, help="wait after start before measuring")
    parser.add_argument("--count", type=int, default=600, help="border notifications pushed (0: idle only)")
    parser.add_argument("--clients", type=int, default=8, help="keep-alive connections pushing at once")
    parser.add_argument("--workers", type=int, default=2000, help="population size of the simulators")
    parser.add_argument("--keep", action="store_true", help="keep the temporary RABT_HOME (logs, databases)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa", help="keys of every party")
    parser.add_argument("--postgres", metavar="ADMIN_URL", default=None,
                        help="hub message log in a fresh database on this PostgreSQL (dropped afterwards)")
    parser.add_argument("--threads", action="store_true",
                        help="also the CPU per message of each thread of the hub's processes (needs py-spy)")
    args = parser.parse_args(argv)
    if args.threads:
        args.threads = py_spy() or parser.error("--threads needs py-spy (pip install py-spy)")
    if not (0 <= args.count <= 100_000 and 1 <= args.processes <= 32 and 0 < args.idle_seconds <= 600):
        parser.error("keep --count 0..100000, --processes 1..32, --idle-seconds 0..600")
    return args


def labelled_processes(stack: BenchStack) -> dict[int, str]:
    """pid → label of every process of the stack that is not a simulator, children included."""
    table = proc_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    labels = {}
    for name, process in stack.processes.items():
        if name in ("simulators", "licensing"):
            continue
        labels[process.pid] = name
        for child in children.get(process.pid, ()):
            labels[child] = f"{name} > {_child_role(child)}"
    return labels


def _child_role(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    if b"--listen-fd" in words:
        return f"gateway child {pid}"
    if b"--watcher-child" in words:
        return f"watcher child {pid}"
    return f"child {pid}"


def cpu_of(labels: dict[int, str]) -> dict[str, float]:
    """CPU seconds so far of each labelled process (a process gone meanwhile is left out)."""
    table = proc_table()
    return {label: table[pid][1] for pid, label in labels.items() if pid in table}


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {label: after[label] - before[label] for label in after if label in before}


def report(idle: dict[str, float], idle_seconds: float, load: dict[str, float] | None, applied: int) -> list[str]:
    """One line per process: idle ms CPU per second, and ms CPU per applied message under load."""
    lines = [f"{'process':<44}{'idle ms/s':>10}{'load ms/msg':>13}"]
    for label in sorted(idle):
        per_message = f"{load[label] / applied * 1000:>13.3f}" if load and applied and label in load else f"{'-':>13}"
        lines.append(f"{label:<44}{idle[label] / idle_seconds * 1000:>10.2f}{per_message}")
    hub = [label for label in idle if label.startswith("hub")]
    lines.append(f"{'hub, all processes':<44}{sum(idle[x] for x in hub) / idle_seconds * 1000:>10.2f}"
                 + (f"{sum(load.get(x, 0.0) for x in hub) / applied * 1000:>13.3f}" if load and applied else ""))
    return lines


def measure(stack: BenchStack, args: argparse.Namespace) -> list[str]:
    progress(f"settling for {args.settle_seconds:g}s …")
    time.sleep(args.settle_seconds)
    labels = labelled_processes(stack)
    before = cpu_of(labels)
    progress(f"idle for {args.idle_seconds:g}s: {len(labels)} processes …")
    time.sleep(args.idle_seconds)
    idle = spent(before, cpu_of(labels))
    load_spent, applied, threads = loaded(stack, args, labels) if args.count else (None, 0, [])
    mode = "one process per role" if args.split else f"rabt serve --processes {args.processes}"
    return [f"{mode}; broker {stack.broker_url}; idle {args.idle_seconds:g}s, then {args.count} border "
            f"notifications ({applied} applied)", *report(idle, args.idle_seconds, load_spent, applied), *threads]


def loaded(stack: BenchStack, args: argparse.Namespace, labels: dict[int, str]) -> tuple[dict, int, list[str]]:
    """CPU seconds of each process over ``--count`` pushes, how many were applied, and (``--threads``) the lines
    of the hub's threads, in ms of CPU per applied message."""
    hub = sorted(pid for pid, label in labels.items() if label.startswith("hub"))
    load = Load(stack, Population(PopulationSpec.scaled(args.workers, seed=stack.seed)))
    try:
        throughput(load, 30, args.clients, timeout=600)  # every process compiles what it uses, off the books
        before, threads_before = cpu_of(labels), thread_seconds(hub)
        put = throughput(load, args.count, args.clients, timeout=600)
        load_spent, applied, threads_after = spent(before, cpu_of(labels)), put["applied"], thread_seconds(hub)
    finally:
        load.close()
    progress(f"  {applied} applied, {len(put['errors'])} errors")
    if not args.threads or not applied:
        return load_spent, applied, []
    per_thread = by_thread(threads_before, threads_after, thread_names(hub, args.threads), labels)
    lines = [f"{'hub thread (under load)':<56}{'ms/msg':>8}"]
    lines += [f"{name:<56}{seconds / applied * 1000:>8.3f}"
              for name, seconds in sorted(per_thread.items(), key=lambda item: -item[1]) if seconds > 0]
    return load_spent, applied, lines


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sqlite = args.broker == "sqlite"
    if not sqlite and (problem := broker_problem(args.broker)):
        progress(f"serve_cpu: {problem}")
        return 1
    home = Path(tempfile.mkdtemp(prefix="rabt-bench-serve-cpu-"))
    broker = f"sqlite:///{home / 'broker.sqlite3'}" if sqlite else args.broker
    with fresh_postgres(args.postgres) as database_url:
        stack = BenchStack(home, broker, workers=args.workers, queue_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
                           split_roles=args.split, serve_processes=None if args.split else args.processes,
                           key_type=args.key_type, database_url=database_url)
        try:
            progress(f"starting the stack in {home} …")
            lines = measure(stack.start(), args)
        finally:
            progress("stopping the stack …")
            stack.stop()
            stack.remove_topology()
            if args.keep:
                progress(f"kept {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)
    print(f"$ python benchmarks/serve_cpu.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
