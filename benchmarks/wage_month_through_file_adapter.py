"""A month of wage files through the central bank file adapter onto the transport.

    python benchmarks/wage_month_through_file_adapter.py                   # 2,000,000 workers, ~180,000 files
    python benchmarks/wage_month_through_file_adapter.py --workers 20000   # quick mode
    python benchmarks/wage_month_through_file_adapter.py --workers 20000 \\
        --broker amqp://guest:guest@127.0.0.1:5672/

The simulator's writer fills a temporary drop folder (timed on its own), then
``--processes`` watcher processes (default: one per core) claim files from the
one inbox — read, map, validate, envelope, sign, store in the SQLite message
log — while this process runs the outbox relay, publishing to the transport
(embedded SQLite broker by default). The clock stops when every file is in
done/ and the outbox is empty. Prints records/s, files/s, wall time and peak
RSS (this process and the largest watcher process). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from adapters.centralbank import ADAPTER
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.filedrop import DropWatcher
from hub.outbox import OutboxRelay
from hub.pki import init_pki
from hub.routing import load_routes
from simulators.centralbank.sif import write_month
from simulators.population import Population, PopulationSpec


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _generate(workers: int, seed: int, year: int, month: int, inbox: str, part: int, parts: int, queue) -> None:
    population = Population(PopulationSpec.scaled(workers, seed=seed))
    employers = range(part, population.spec.employers, parts)
    summary = write_month(population, year, month, Path(inbox), employers=employers)
    queue.put((summary.files, summary.lines))


def generate(args, inbox: Path) -> tuple[int, int, float]:
    """Write the month with one process per core; (files, lines, seconds)."""
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    procs = [context.Process(target=_generate, args=(args.workers, args.seed, args.year, args.month, str(inbox),
                                                     i, args.processes, queue)) for i in range(args.processes)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return sum(f for f, _ in results), sum(n for _, n in results), time.perf_counter() - started


def _watch(settings: Settings, batch_files: int, queue) -> None:
    """One watcher process: claim files until the inbox is empty."""
    hub = bootstrap(settings)
    watcher = DropWatcher(settings, [ADAPTER], hub.pipeline, batch_files=batch_files)
    done = failed = 0
    while True:
        outcomes = watcher.scan_once(limit=5000)
        if not outcomes:
            break
        done += sum(o.status == "done" for o in outcomes)
        failed += sum(o.status != "done" for o in outcomes)
    hub.close()
    queue.put((os.getpid(), done, failed, peak_rss_mib()))


def process(args, settings: Settings) -> dict:
    """Watchers in child processes, the relay here; returns the figures."""
    hub = bootstrap(settings)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    started = time.perf_counter()
    procs = [context.Process(target=_watch, args=(settings, args.batch_files, queue)) for _ in range(args.processes)]
    for proc in procs:
        proc.start()
    published = 0
    with hub.open_transport() as transport:
        transport.declare(load_routes())
        relay = OutboxRelay(hub.log, transport, batch_size=500)
        while any(proc.is_alive() for proc in procs):
            sent = relay.relay_once()
            published += sent
            if sent == 0:
                time.sleep(0.05)
        published += relay.drain()
        wall = time.perf_counter() - started
        stats = {q.name: q for q in transport.queue_stats()}
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    hub.close()
    return {"wall": wall, "published": published, "results": results, "queues": stats}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2_000_000, help="population size (≈ salary lines)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--month", default="2026-02", help="YYYY-MM")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="watcher processes")
    parser.add_argument("--batch-files", type=int, default=64, help="files stored per message-log transaction")
    parser.add_argument("--broker", default="", help="transport URL (default: embedded SQLite broker)")
    parser.add_argument("--dir", default=None, help="parent of the temporary folder")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    args.year, args.month = (int(part) for part in args.month.split("-"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="wage-month-", dir=args.dir))
    settings = Settings(home=home, broker_url=args.broker)
    try:
        init_pki(settings.pki_dir, ["centralbank", "licensing"])
        inbox = settings.drop_dir / "centralbank" / "inbox"
        inbox.mkdir(parents=True)
        files, lines, gen_seconds = generate(args, inbox)
        print(f"generated {files:,} files, {lines:,} salary lines in {gen_seconds:.1f}s", file=sys.stderr)
        figures = process(args, settings)
        report(args, files, lines, gen_seconds, figures)
    finally:
        if args.keep:
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    return 0


def report(args, files: int, lines: int, gen_seconds: float, figures: dict) -> None:
    wall = figures["wall"]
    done = sum(r[1] for r in figures["results"])
    failed = sum(r[2] for r in figures["results"])
    watcher_rss = [r[3] for r in figures["results"]]
    licensing = figures["queues"].get("licensing")
    print(f"broker            {args.broker or 'embedded SQLite'}")
    print(f"watcher processes {args.processes} (+ relay in the parent), {args.batch_files} files per transaction")
    print(f"files             {files:,} generated, {done:,} accepted, {failed:,} not accepted")
    print(f"salary lines      {lines:,}")
    print(f"published         {figures['published']:,} messages"
          + (f" (licensing queue holds {licensing.ready:,})" if licensing is not None else ""))
    print(f"generation        {gen_seconds:.1f} s (not in the figures below)")
    print(f"wall time         {wall:.1f} s  (drop -> done/ + published)")
    print(f"files/s           {files / wall:,.0f}")
    print(f"records/s         {lines / wall:,.0f}")
    print(f"peak RSS          relay/parent {peak_rss_mib():.0f} MiB, largest watcher {max(watcher_rss):.0f} MiB, "
          f"sum {peak_rss_mib() + sum(watcher_rss):.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
