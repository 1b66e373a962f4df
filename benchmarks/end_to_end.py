"""End to end: police SOAP push → applied by licensing, against raw pika; visa-check latency.

Starts the whole system as separate processes (``simulators.demo.stack.Stack``:
agency simulators, ``rabt serve``, licensing web app and consumer) in a fresh
temporary RABT_HOME, on RabbitMQ (default) or the embedded SQLite broker, then

1. **throughput** — N police border notifications (arrival, departure,
   renewal, each signed with the police key and serialized before the clock
   starts, each whole HTTP request too) posted to the gateway over C
   keep-alive connections kept busy at once by one client thread (the
   client's CPU is reported on its own line, so it can be told from the
   hub's); the clock stops when licensing's
   database holds all N. In the same run raw pika publishes N messages of the
   very bytes the hub carried (the signed envelopes from its message log) to a
   fresh quorum queue with confirms and consumes them with manual acks;
2. **visa check latency** — CheckVisaEligibility at a fixed rate through the
   gateway (request/reply to licensing and back), then as many direct calls to
   licensing's ``GET /api/visa-eligibility`` at the same rate. Latency counts
   from each request's scheduled send time, so a backed-up client cannot hide
   a slow server.

Then the dead letters are listed (there should be none) and every process is
stopped, also on Ctrl-C or SIGTERM. With several ``--processes`` the pushes
of every run end in one table side by side. Before the stack starts, the floor
(``--floor``, see ``end_to_end_floor``) is timed on the same machine with the
same kind of keys, and the report sets the end-to-end rate and the CPU per
message of the hub and of licensing's consumer against it. ``--key-type both``
does the whole run twice, RSA then ECDSA. Progress goes to stderr, figures
to stdout. Nothing leaves 127.0.0.1 (the broker URL aside).

    python benchmarks/end_to_end.py --quick
    python benchmarks/end_to_end.py --count 3000 --rate 20 --seconds 15 --key-type both
    python benchmarks/end_to_end.py --broker sqlite
    python benchmarks/end_to_end.py --visa-only --rate 200 --seconds 10
    python benchmarks/end_to_end.py --processes 1 2 --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

from end_to_end_floor import FLOOR_VARIABLE, Floor, cpu_per_message, floor_lines, floor_path, run_floor
from end_to_end_load import Load, progress, throughput
from end_to_end_report import push_row, side_by_side, throughput_lines, visa_lines
from end_to_end_stack import BenchStack, carried_envelopes, dead_letters, fresh_postgres, serve_processes
from end_to_end_visa import visa_latency
from hub.errors import RabtError
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem
from raw_pika import RawPika, rates
from simulators.demo.stack import Stack
from simulators.population import Population, PopulationSpec


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default=DEFAULT_AMQP_URL, help="amqp://… (default) or 'sqlite' (embedded)")
    parser.add_argument("--pika-url", default=None, help="RabbitMQ for the raw pika baseline (default: --broker, "
                                                         "or the local RabbitMQ with --broker sqlite)")
    parser.add_argument("--postgres", metavar="ADMIN_URL", default=None,
                        help="hub message log in a fresh database on this PostgreSQL (dropped afterwards), "
                             "e.g. postgresql://postgres@127.0.0.1:5432/postgres; default: SQLite in the temp home")
    parser.add_argument("--count", type=int, default=3000, help="border notifications to push")
    parser.add_argument("--clients", type=int, default=8,
                        help="keep-alive connections pushing at once (one client thread drives them all)")
    parser.add_argument("--rate", type=float, default=20.0, help="visa checks per second, each path")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long each visa path runs")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait for licensing to apply all")
    parser.add_argument("--workers", type=int, default=2000, help="population size of the simulators")
    parser.add_argument("--visa-only", action="store_true",
                        help="only the visa checks (no pushes, no raw pika): e.g. --visa-only --rate 200 --seconds 10")
    parser.add_argument("--quick", action="store_true", help="300 notifications, 5 s of visa checks per path")
    parser.add_argument("--keep", action="store_true", help="keep the temporary RABT_HOME (logs, databases)")
    parser.add_argument("--key-type", choices=("rsa", "ec", "both"), default="rsa",
                        help="keys of every party (rabt pki init --key-type); both: one whole run each")
    parser.add_argument("--processes", type=int, nargs="+", default=None, metavar="N",
                        help="gateway processes (rabt serve --processes N); several values run the stack once "
                             "with each, side by side in one report (e.g. --processes 1 2); repeated, each round's "
                             "ratio (--processes 1 2 1 2: two rounds, alternated)")
    parser.add_argument("--floor", metavar="PATH", default=None,
                        help=f"floor.py to time in the same run (default: ${FLOOR_VARIABLE}; relative to the project root)")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.seconds = 300, 5.0
    if not (1 <= args.count <= 100_000 and 1 <= args.clients <= 64 and 0 < args.rate <= 200
            and 0 < args.seconds <= 300 and args.rate * args.seconds >= 1 and 0 < args.timeout <= 3600
            and all(1 <= n <= 32 for n in args.processes or ())):
        parser.error("keep --count 1..100000, --clients 1..64, --rate 0..200, --seconds 0..300, --timeout 0..3600,"
                     " --processes 1..32")
    args.sqlite = args.broker == "sqlite"
    args.pika_url = args.pika_url or (DEFAULT_AMQP_URL if args.sqlite else args.broker)
    return args


def raw_pika(url: str, bodies: list[bytes], count: int) -> tuple[float, float, float]:
    """(publish, consume, end-to-end) msg/s of ``count`` messages of ``bodies`` through raw pika."""
    progress(f"raw pika: {count} messages of the same bytes to a fresh quorum queue at {url} …")
    return rates(count, RawPika(url, f"bench-e2e-raw-{uuid.uuid4().hex[:8]}", count, 1024, 256, bodies).run())


def measure(stack: Stack, args: argparse.Namespace, floor: Floor | str) -> list[str]:
    """Both phases on the running stack; the report's lines (the pushes' figures also in ``args.rows``)."""
    load = Load(stack, Population(PopulationSpec.scaled(args.workers, seed=stack.seed)))
    try:
        put = None if args.visa_only else throughput(load, args.count, args.clients, args.timeout)
        bodies = carried_envelopes(stack, put["count"]) if put else []
        raw = raw_pika(args.pika_url, bodies, put["count"]) if bodies else None
        visa = visa_latency(load, args.rate, args.seconds)
    finally:
        load.close()
    for error in sorted(set((put["errors"] if put else []) + visa["hub"].errors + visa["direct"].errors))[:10]:
        progress(f"error: {error}")
    log = "PostgreSQL" if stack.database_url else "SQLite"
    lines = [f"broker {stack.broker_url}, message log on {log}"]
    if put:
        cpu_ms = cpu_per_message(*put["cpu_used"], put["applied"])
        lines[0] += f"; {args.count} police border notifications over {args.clients} connections at once"
        row = push_row(put, floor, args.current_processes)
        args.rows.append(row)
        lines += [*throughput_lines(put, raw, bodies),
                  *floor_lines(put["applied"] / put["applied_s"], floor, cpu_ms),
                  f"client (signed before the clock, keep-alive HTTP): {row['client']:.2f} ms CPU per push",
                  *put["accounting"], ""]
    return [*lines, *visa_lines(visa, args.rate), "", f"dead letters after the run: {len(dead_letters(stack))}"]


def run(stack: Stack, args: argparse.Namespace, floor: Floor | str) -> tuple[list[str], dict[str, int]]:
    """Start the stack and measure; every process stops whatever happens. The report and exit codes."""
    try:
        progress(f"starting simulators, hub and licensing in {stack.home} on {stack.broker_url} …")
        lines = measure(stack.start(), args, floor)
    finally:
        progress("stopping the stack …")
        codes = stack.stop()
        try:
            stack.remove_topology()
        except RabtError as exc:
            progress(f"could not delete this run's queues: {exc}")
    return lines, codes


def ready(args: argparse.Namespace) -> bool:
    """Brokers reachable (said at once, not after the stack's start-up timeouts); signals set."""
    # --visa-only publishes nothing through raw pika: with --broker sqlite it needs no RabbitMQ at all
    needed = (set() if args.visa_only else {args.pika_url}) | (set() if args.sqlite else {args.broker})
    for url in needed:
        if problem := broker_problem(url):
            progress(f"end_to_end: {problem}")
            return False
    # Ctrl-C (even when started in the background, where SIGINT comes ignored) and SIGTERM end
    # the run through run()'s finally, which stops every process.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return True


def one_run(args: argparse.Namespace, key_type: str, gateway_processes: int | None) -> list[str] | None:
    """The floor, then the whole stack, with ``key_type`` keys; the report's lines (None: the run failed)."""
    floor_file = floor_path(args.floor)
    progress(f"floor ({key_type}): {floor_file} …")
    floor = run_floor(floor_file, ec=key_type == "ec")
    processes, processes_line = serve_processes(gateway_processes)
    home = Path(tempfile.mkdtemp(prefix="rabt-bench-e2e-"))
    broker = f"sqlite:///{home / 'broker.sqlite3'}" if args.sqlite else args.broker
    load_before = os.getloadavg()[0]
    try:
        with fresh_postgres(args.postgres) as database_url:
            # its own queue prefix: the run shares no queue with others on the same RabbitMQ
            stack = BenchStack(home, broker, workers=args.workers, database_url=database_url,
                               queue_prefix=f"bench-{uuid.uuid4().hex[:8]}.", key_type=key_type,
                               serve_processes=processes)
            lines, codes = run(stack, args, floor)
    except (RabtError, RuntimeError, OSError, psycopg.Error) as exc:
        progress(f"end_to_end: {exc}")
        args.keep = True  # the process logs say why
        return None
    finally:
        if args.keep:
            progress(f"kept {home} (process logs in logs/)")
        else:
            shutil.rmtree(home, ignore_errors=True)
    unclean = {name: code for name, code in codes.items() if code not in (0, -15)}
    return [f"keys: {key_type.upper()}; {processes_line}; load average {load_before:.1f} at the start,"
            f" {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores, shared with whatever else runs)",
            *lines, *([f"processes that did not stop cleanly: {unclean}"] if unclean else [])]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not ready(args):
        return 1
    reports = []
    try:
        for key_type in (("rsa", "ec") if args.key_type == "both" else (args.key_type,)):
            args.rows = []
            for gateway_processes in args.processes or (None,):
                args.current_processes = gateway_processes
                lines = one_run(args, key_type, gateway_processes)
                if lines is None:
                    return 1
                reports.append(lines)
            if args.rows:
                reports.append([f"pushes, {key_type.upper()} keys, side by side:", *side_by_side(args.rows)])
    except KeyboardInterrupt:
        progress("end_to_end: interrupted")
        return 130
    command = shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"$ python benchmarks/{Path(__file__).name} {command}".rstrip())
    print("\n\n".join("\n".join(lines) for lines in reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
