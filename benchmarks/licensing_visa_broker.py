"""What one visa check costs licensing's consumer over RabbitMQ: its process's CPU per check, with the transport.

    python benchmarks/licensing_visa_broker.py                       # 2000 checks at 200/s, EC keys, 8 threads
    python benchmarks/licensing_visa_broker.py --threads 8 4 2 --key-type rsa
    python benchmarks/licensing_visa_broker.py --checks 1000 --stages  # and the CPU of each stage
    python benchmarks/licensing_visa_broker.py --push                # pushed WorkerArrivals instead

``licensing_visa_answer.py`` measures the consumer with a stand-in for the
broker; this one runs it as ``consume`` does — its threads, each with its own
AMQP transport on the licensing queue, one state and window applier, a
receipt sender — in a process of its own, on a private topology (a queue
prefix of its own, removed afterwards) of the broker at ``--url``. This
process asks the hub-signed VisaEligibilityQuery questions (the same ones)
over request/reply at ``--rate`` from several asker threads, each with its
own transport, as the gateway does, and checks every answer came. Printed
per ``--threads`` value: the consumer process's CPU per check (its user and
system time, counted from the first check after the warm-up to the last
answer; the broker's own CPU is not in it), the windows it committed, and
the round trip's p50 and p99 as this process saw them; with ``--stages``
the thread CPU and calls per check of the consume loop's waits, the
handler, the reply, the commit window and the ack (timing them costs a
little). With ``--push``, hub-signed WorkerArrival notifications are
published at ``--rate`` instead (as the hub's relay pushes them, nothing
awaited), and the figures are per message applied, counted until the last
is handled (no round trip). The host is shared: compare values of one run, and repeat.
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from licensing_visa_answer import WARM, timed_stage, prepare

from hub import lifeline
from hub.transports import Message, open_transport
from hub.routing import load_routes
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem

KEY = "licensing.VisaEligibilityQuery.police"
PUSH_KEY = "licensing.WorkerArrival.police"
#: set in the consumer's environment by ``--stages``
STAGES_VARIABLE = "RABT_BENCH_STAGES"


def time_stages() -> None:
    """Count each stage's thread CPU and calls in this process; printed to stderr on exit."""
    import atexit
    from collections import Counter

    from pika.adapters.blocking_connection import BlockingConnection

    from hub.transports.amqp import AmqpTransport
    from hub.transports.amqp_consumer import AmqpConsumer
    from simulators.licensing.batches import WindowApplier
    from simulators.licensing.consumer import LicensingConsumer

    spent: Counter = Counter()

    def timed(owner: type, name: str) -> None:
        stage = f"{owner.__name__}.{name}"
        timing = timed_stage(spent, stage, getattr(owner, name))

        def counted(*args, **kwargs):
            spent[stage + "#"] += 1
            return timing(*args, **kwargs)
        setattr(owner, name, counted)

    for owner, name in ((AmqpConsumer, "_handle"), (LicensingConsumer, "handle"), (AmqpTransport, "reply"),
                        (WindowApplier, "settle"), (BlockingConnection, "process_data_events"),
                        (AmqpConsumer, "_ack_handled")):
        timed(owner, name)
    atexit.register(lambda: print(f"stages {dict(spent)!r}", file=sys.stderr))


def stage_lines(report: str) -> list[str]:
    """The child's ``stages`` line as thread CPU ms and calls per check (per delivery handled)."""
    spent = ast.literal_eval(report.partition(" ")[2])
    checks = max(spent.get("AmqpConsumer._handle#", 0), 1)
    return [f"    {stage:<44}{seconds * 1000 / checks:>8.3f} ms{spent[stage + '#'] / checks:>7.2f} calls"
            for stage, seconds in spent.items() if not stage.endswith("#")]


def serve(home: Path, url: str, prefix: str, threads: int) -> None:
    """The child: ``consume``'s wiring until stdin closes; then its CPU seconds and windows on stdout."""
    from hub.signing import TrustStore
    from simulators.licensing.consumer import LicensingConsumer
    from simulators.licensing.hub_link import consume_until_stopped, hub_verifier, licensing_seal
    from simulators.licensing.receipt_store import ReceiptStore
    from simulators.licensing.receipts import ReceiptSender
    from simulators.licensing.state import LicensingState

    routes = load_routes().with_prefix(prefix)
    database = home / f"run-{os.getpid()}.sqlite3"
    shutil.copyfile(home / "licensing.sqlite3", database)
    state = LicensingState(f"sqlite:///{database}")
    verify, seal = hub_verifier(TrustStore.load(home / "pki")), licensing_seal(home / "pki")
    receipts = ReceiptSender(lambda: open_transport(url, routes=routes), seal, store=ReceiptStore(state.engine))
    receipts.attach(state.windows)
    receipts.start()
    stop = threading.Event()
    if os.environ.get(STAGES_VARIABLE):
        time_stages()

    handled, counting = [0], threading.Lock()

    def run() -> None:
        with open_transport(url, routes=routes) as transport:
            consumer = LicensingConsumer(state, verify, transport=transport, seal=seal, receipts=receipts)

            def handle(delivery) -> None:
                consumer.handle(delivery)
                with counting:
                    handled[0] += 1
            handle.settle = consumer.settle  # as consume passes it: changes committed once per ack
            consume_until_stopped(transport, routes, handle, stop)

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    print("ready", flush=True)
    for line in sys.stdin:  # "mark": CPU so far; end of input: stop
        print(f"{sum(os.times()[:2]):.4f} {state.windows.commits} {handled[0]}", flush=True)
    stop.set()
    for worker in workers:
        worker.join(10)
    receipts.close()


def ask_all(url: str, routes, questions: list[bytes], rate: float, askers: int, timeout: float = 10) -> list[float]:
    """Ask every question at ``rate`` (due times fixed in advance) from ``askers`` threads; the round trips."""
    due, began, latencies, errors = queue.Queue(), time.monotonic() + 0.2, [], []
    for n, data in enumerate(questions):
        due.put((began + n / rate, n, data))

    def asker() -> None:
        with open_transport(url, routes=routes) as transport:
            transport.connect()
            while True:
                try:
                    at, n, data = due.get_nowait()
                except queue.Empty:
                    return
                time.sleep(max(at - time.monotonic(), 0))
                try:
                    transport.request(Message(data, KEY, f"q-{os.getpid()}-{n}", f"c-{n}"), timeout=timeout)
                    latencies.append(time.monotonic() - at)
                except Exception as exc:  # noqa: BLE001 - counted and told, the run goes on
                    errors.append(exc)

    threads = [threading.Thread(target=asker) for _ in range(askers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} checks failed, the first: {errors[0]!r}")
    return latencies


def push_all(url: str, routes, notifications: list[bytes], rate: float) -> None:
    """Publish every notification at ``rate`` (due times fixed in advance), as the relay does: confirmed, not awaited."""
    began = time.monotonic() + 0.2
    with open_transport(url, routes=routes) as transport:
        for n, data in enumerate(notifications):
            time.sleep(max(began + n / rate - time.monotonic(), 0))
            transport.publish([Message(data, PUSH_KEY, f"p-{os.getpid()}-{n}")])


def wait_handled(child: subprocess.Popen, count: float, timeout: float = 60) -> tuple[float, float]:
    """Mark until the consumer handled ``count`` deliveries in all; its CPU seconds and windows then."""
    deadline = time.monotonic() + timeout
    while True:
        cpu, commits, handled = marks(child)
        if handled >= count:
            return cpu, commits
        if time.monotonic() > deadline:
            raise SystemExit(f"the consumer handled {handled:.0f} of {count:.0f} notifications")
        time.sleep(0.02)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q / 100 + 0.5) - 1))]


def one_run(home: Path, url: str, threads: int, questions: list[bytes], rate: float, askers: int,
            stages: bool, push: bool = False) -> list[str]:
    """Start a consumer with ``threads``, ask the warm-up and then the measured questions; its figures."""
    prefix = f"rabt-bench-{uuid.uuid4().hex[:10]}."
    routes = load_routes().with_prefix(prefix)
    environment = os.environ | ({STAGES_VARIABLE: "1"} if stages else {})
    with open_transport(url, routes=routes) as admin:
        admin.declare(routes)
        child = lifeline.popen([sys.executable, __file__, "--serve", str(threads), "--home", str(home), "--url", url,
                                "--prefix", prefix], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE if stages else None, text=True, env=environment)
        try:
            child.stdout.readline()  # ready
            if push:
                push_all(url, routes, questions[:WARM], rate)
                cpu_before, commits_before = wait_handled(child, WARM)
                push_all(url, routes, questions[WARM:], rate)
                cpu_after, commits_after = wait_handled(child, len(questions))
                latencies = []  # no round trip to time
            else:
                ask_all(url, routes, questions[:WARM], rate, askers)
                cpu_before, commits_before = mark(child)
                latencies = ask_all(url, routes, questions[WARM:], rate, askers)
                cpu_after, commits_after = mark(child)
        finally:
            child.stdin.close()
            report = child.stderr.read() if stages else ""
            child.wait(30)
            admin.undeclare(routes)
    checks = len(questions) - WARM
    trip = (f"{percentile(latencies, 50) * 1000:>9.1f}{percentile(latencies, 99) * 1000:>9.1f}" if latencies
            else f"{'-':>9}{'-':>9}")
    lines = [f"  {threads:>7}{(cpu_after - cpu_before) * 1000 / checks:>14.3f}{commits_after - commits_before:>9.0f}"
             + trip]
    found = [line for line in report.splitlines() if line.startswith("stages ")]
    return lines + (stage_lines(found[-1]) if found else [])


def mark(child: subprocess.Popen) -> tuple[float, float]:
    """The consumer process's CPU seconds so far and the windows it committed."""
    return marks(child)[:2]


def marks(child: subprocess.Popen) -> tuple[float, float, float]:
    """The consumer process's CPU seconds so far, the windows it committed and the deliveries it handled."""
    child.stdin.write("mark\n")
    child.stdin.flush()
    cpu, commits, handled = map(float, child.stdout.readline().split())
    return cpu, commits, handled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--checks", type=int, default=2000, help="visa checks measured (after 20 to warm up)")
    parser.add_argument("--rate", type=float, default=200.0, help="checks asked per second")
    parser.add_argument("--askers", type=int, default=16, help="asker threads, one question at a time each")
    parser.add_argument("--threads", type=int, nargs="+", default=[8], help="consumer threads (one run each)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="ec")
    parser.add_argument("--push", action="store_true",
                        help="publish WorkerArrival notifications at --rate instead of asking visa checks")
    parser.add_argument("--stages", action="store_true",
                        help="also the consumer threads' CPU per check in each stage (timed, so a little dearer)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.home, args.url, args.prefix, args.serve)
        return 0
    if (problem := broker_problem(args.url)) is not None:
        print(problem, file=sys.stderr)
        return 1
    home = Path(tempfile.mkdtemp(prefix="rabt-licensing-broker-"))
    try:
        prepare(home, WARM + args.checks, args.key_type)
        if args.push:
            from licensing_receipts import deliveries
            questions = [pushed.message.body for pushed in deliveries(home, WARM + args.checks)]
        else:
            questions = [bytes.fromhex(line) for line in (home / "questions.hex").read_text().split()]
        what = "pushed WorkerArrivals" if args.push else "visa checks"
        print(f"licensing's consumer over {args.url.split('@')[-1]}: {args.checks} {what} at {args.rate:g}/s, "
              f"{args.key_type.upper()} keys, SQLite; load average {os.getloadavg()[0]:.1f}")
        print(f"  {'threads':>7}{'CPU ms/' + ('msg' if args.push else 'check'):>14}{'windows':>9}{'p50 ms':>9}"
              f"{'p99 ms':>9}")
        for threads in args.threads:
            print("\n".join(one_run(home, args.url, threads, questions, args.rate, args.askers, args.stages,
                                    args.push)), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
