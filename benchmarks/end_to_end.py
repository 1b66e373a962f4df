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
import math
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

from end_to_end_floor import FLOOR_VARIABLE, Floor, cpu_per_message, floor_lines, floor_path, run_floor
from end_to_end_load import BORDER_TYPES, Load, progress, throughput
from end_to_end_stack import BenchStack, fresh_postgres, serve_processes
from end_to_end_visa import Outcome, visa_latency
from hub.errors import RabtError
from hub.messagelog import open_message_log
from hub.routing import load_routes
from hub.transports import open_transport
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


def carried_envelopes(stack: Stack, count: int) -> list[bytes]:
    """The signed canonical envelopes the hub published for the border notifications."""
    log = open_message_log(stack.database_url or f"sqlite:///{stack.home / 'messages.sqlite3'}", create=False)
    try:
        stored = [m for kind in BORDER_TYPES for m in log.find(message_type=kind, source_agency="police", limit=count)]
    finally:
        log.close()
    return [m.envelope for m in stored][:count]


def raw_pika(url: str, bodies: list[bytes], count: int) -> tuple[float, float, float]:
    """(publish, consume, end-to-end) msg/s of ``count`` messages of ``bodies`` through raw pika."""
    progress(f"raw pika: {count} messages of the same bytes to a fresh quorum queue at {url} …")
    return rates(count, RawPika(url, f"bench-e2e-raw-{uuid.uuid4().hex[:8]}", count, 1024, 256, bodies).run())


def dead_letters(stack: Stack) -> list:
    """What ``rabt dlq list`` shows for this stack's topology."""
    with open_transport(stack.broker_url, routes=load_routes(stack.home / "routes.toml")) as transport:
        letters = transport.dead_letters(limit=1000)
    for letter in letters:
        progress(f"DEAD LETTER {letter.queue} {letter.message_id}: {letter.code}: {letter.reason}")
    return letters


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` from 0 to 100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(len(ordered) * q / 100) - 1))]


def latency_row(name: str, result: Outcome) -> str:
    answered = f"  {name:<40}{len(result.latencies):>8}{result.busy:>6}{len(result.errors):>7}"
    if not result.latencies:
        return f"{answered}   (no answers)"
    return answered + "".join(f"{percentile(result.latencies, q) * 1000:>8.1f}" for q in (50, 95, 99, 100))


def throughput_lines(put: dict, raw: tuple | None, bodies: list[bytes]) -> list[str]:
    count, e2e = put["count"], put["applied"] / put["applied_s"]
    lines = [f"{'throughput':<46}{'msg/s':>8}{'seconds':>9}{'messages':>10}",
             f"  {'gateway answered (SOAP receipts)':<44}{count / put['accepted_s']:>8.1f}{put['accepted_s']:>9.1f}"
             f"{count - len(put['errors']):>10}",
             f"  {'end to end: SOAP push -> applied by licensing':<44}{e2e:>8.1f}{put['applied_s']:>9.1f}"
             f"{put['applied']:>10}"]
    if raw is not None:
        size = sum(map(len, bodies)) / len(bodies)
        lines += [f"  {'raw pika publish->consume, same bytes':<44}{raw[2]:>8.0f}{count / raw[2]:>9.2f}{count:>10}",
                  f"ratio end-to-end / raw pika: {e2e / raw[2]:.3f}  (goal >= 0.5); envelopes {size:.0f} bytes on average"]
    return lines + [f"errors: {len(put['errors'])} pushes failed, {count - len(put['errors']) - put['applied']} "
                    f"accepted but not applied", f"cpu seconds: {put['cpu']}"]


def visa_lines(visa: dict, rate: float) -> list[str]:
    hub, direct = visa["hub"], visa["direct"]
    cpu_ms = cpu_per_message(*visa["cpu_used"], len(hub.latencies))
    lags, in_flight = hub.lag + direct.lag or [0.0], hub.in_flight or [0]
    return [f"{'visa check round trip':<42}{'answers':>8}{'Busy':>6}{'errors':>7}{'p50':>8}{'p95':>8}{'p99':>8}"
            f"{'max':>8}  ms",
            latency_row("police SOAP -> gateway -> licensing -> back", hub),
            latency_row("direct GET licensing /api/visa-eligibility", direct),
            f"asked {visa['count']} per path at {rate:g}/s; generator late by at most {max(lags) * 1000:.1f} ms "
            f"(p99 {percentile(lags, 99) * 1000:.1f} ms) from the due time to the send",
            f"checks under way at once via the hub (all gateway processes): p50 {percentile(in_flight, 50)}, "
            f"p99 {percentile(in_flight, 99)}, max {max(in_flight)}",
            f"cpu seconds via the hub: {visa['cpu'][0]}",
            f"cpu seconds direct: {visa['cpu'][1]}",
            f"cpu per answered visa check: hub {cpu_ms['hub']:.2f} ms, licensing consumer {cpu_ms['licensing']:.2f} ms; "
            f"the load generator's own per request {generator_cpu_ms(*visa['cpu_used'], visa['count']):.2f} ms"]


def generator_cpu_ms(before: dict[str, float], after: dict[str, float], requests: int) -> float:
    """Milliseconds of CPU this process spent per request (``benchmark`` is its own time, the stack not in it)."""
    return (after["benchmark"] - before.get("benchmark", 0.0)) / max(requests, 1) * 1000


def push_row(put: dict, floor: Floor | str, processes: int | None) -> dict:
    """One run's throughput figures for the side-by-side table (``--processes 1 2``)."""
    cpu_ms = cpu_per_message(*put["cpu_used"], put["applied"])
    rate = put["applied"] / put["applied_s"]
    machine = floor.machine_rate if isinstance(floor, Floor) else None
    return {"processes": processes, "rate": rate, "floor": machine, "ratio": rate / machine if machine else None,
            "hub": cpu_ms["hub"], "licensing": cpu_ms["licensing"],
            "client": put["client_cpu"] / max(put["count"], 1) * 1000, "ceiling": put["ceiling"]}


def side_by_side(rows: list[dict]) -> list[str]:
    """The pushes of every run in one table, and how the rate grew with the gateway processes.

    ``hub/licensing``: licensing's consumer does the same work per message however many
    gateway processes run, so its CPU per message shows how fast the shared machine ran
    during each run; the hub's divided by it compares runs made at different speeds.
    ``ceiling``: the rate the machine's cores could carry at the run's CPU per message.
    """
    lines = [f"{'gateway processes':<19}{'msg/s':>8}{'floor msg/s':>13}{'ratio':>7}"
             f"{'hub ms/msg':>12}{'licensing ms/msg':>18}{'client ms/msg':>15}{'hub/licensing':>15}{'ceiling':>9}"]
    for row in rows:
        floor = f"{row['floor']:>13.0f}{row['ratio']:>7.3f}" if row["floor"] else f"{'-':>13}{'-':>7}"
        lines.append(f"{row['processes'] or 'default'!s:<19}{row['rate']:>8.1f}{floor}{row['hub']:>12.2f}"
                     f"{row['licensing']:>18.2f}{row['client']:>15.2f}"
                     f"{row['hub'] / max(row['licensing'], 1e-9):>15.2f}{row['ceiling']:>9.0f}")
    if len(rows) > 1 and rows[0]["processes"]:
        lines += scaling_lines(rounds(rows))
    return lines


def rounds(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(first, last) run of each round: ``--processes 1 2 1 2`` is two rounds, a new one where the first count recurs."""
    starts = [index for index, row in enumerate(rows) if row["processes"] == rows[0]["processes"]] + [len(rows)]
    return [(rows[start], rows[end - 1]) for start, end in zip(starts, starts[1:]) if end - start > 1]


def scaling_lines(pairs: list[tuple[dict, dict]]) -> list[str]:
    """How the rate grew from each round's first run to its last, and the most the machine allowed.

    One round decides nothing on a shared machine: the same code's ratio moved
    from 1.3x to 1.9x between rounds, as each run's CPU per message moved.
    """
    if not pairs:
        return []
    first, last = pairs[0]
    ratios = [b["rate"] / a["rate"] for a, b in pairs]
    ceilings = [b["ceiling"] / a["rate"] for a, b in pairs]
    spread = f" (median {statistics.median(ratios):.2f}x of {len(pairs)} rounds)" if len(pairs) > 1 else ""
    return [f"{last['processes']} processes / {first['processes']}: {', '.join(f'{r:.2f}x' for r in ratios)} "
            f"the rate{spread} (goal >= 1.6x for 2 / 1)",
            f"the most {last['processes']} processes could reach here: their ceiling / the rate of "
            f"{first['processes']} = {', '.join(f'{c:.2f}x' for c in ceilings)}"]


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
