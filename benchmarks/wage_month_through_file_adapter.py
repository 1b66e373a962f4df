"""A month of wage files through the central bank file adapter onto the transport.

    python benchmarks/wage_month_through_file_adapter.py                   # 2,000,000 workers, ~180,000 files
    python benchmarks/wage_month_through_file_adapter.py --workers 20000   # quick mode
    python benchmarks/wage_month_through_file_adapter.py --workers 20000 --key-type rsa
    python benchmarks/wage_month_through_file_adapter.py --workers 20000 --consume   # licensing takes them too
    python benchmarks/wage_month_through_file_adapter.py --workers 20000 \\
        --broker amqp://guest:guest@127.0.0.1:5672/
    python benchmarks/wage_month_through_file_adapter.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

The simulator's writer fills a temporary drop folder (timed on its own), then
``--processes`` watcher processes (default: one per core) claim files from the
one inbox — read, map, validate, envelope, sign, store in the SQLite message
log (``--postgres``: a fresh database on that server, dropped afterwards) —
while this process runs the outbox relay, publishing to the transport
(embedded SQLite broker by default). The clock stops when every file is in
done/ and the outbox is empty. Prints records/s, files/s, wall time, CPU
time, how long the watchers waited for a core and how often they blocked
(the machine's other load; the disk and the log's lock), bytes written to
disk, peak memory (RSS per process and summed, and the
sum of PSS over all processes, sampled), the SQLite log's largest ``-wal``
file (sampled every 2 ms: every writing process checkpoints it against one
budget) and the load average before and after (the machine may be shared).
Progress goes to stderr.

The temporary folder goes under ``/var/tmp`` (``--dir`` to change): it must
be on disk — ``/tmp`` is a RAM file system on many systems — and a folder
every test run on the machine creates and deletes files in is a poor place
to time file creation (ext4 without a journal scans past recently deleted
inodes on every create, see the README's figures). For the same reason a
run right after another one (which deleted its 360,000 files on the way
out) files its receipts up to 4x slower: let the disk rest a minute
(``sync; sleep 90``) between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from adapters.centralbank import ADAPTER
from end_to_end_processes import waited_of
from hub import lifeline
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.filedrop import DropWatcher
from hub.outbox import OutboxRelay
from hub.pki import init_pki
from hub.roles import settle_garbage_collector
from hub.routing import load_routes
from hub.transports import open_transport, transport_class
from simulators.centralbank.sif import write_month
from simulators.population import Population, PopulationSpec

KEYS = {"ec": "ECDSA P-256", "rsa": "RSA-2048"}


@dataclass(frozen=True)
class Usage:
    """What one process used so far: CPU seconds (all, system), bytes it sent to disk, peak RSS,
    bytes it handed to write calls (``handed``), seconds its main thread was runnable but waited
    for a core (``waited``, schedstat) and times it blocked (``blocked``: voluntary switches)."""

    cpu: float
    system: float
    written: int
    rss_mib: float
    handed: int = 0
    waited: float = 0.0
    blocked: int = 0

    @classmethod
    def now(cls) -> Usage:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(usage.ru_utime + usage.ru_stime, usage.ru_stime, _written(), usage.ru_maxrss / 1024,
                   _written(field="wchar"), _waited(), usage.ru_nvcsw)

    def since(self, start: Usage) -> Usage:
        return Usage(self.cpu - start.cpu, self.system - start.system, self.written - start.written, self.rss_mib,
                     self.handed - start.handed, self.waited - start.waited, self.blocked - start.blocked)


def _waited() -> float:
    """Seconds this process's main thread was runnable but not running (Linux schedstat), 0 where unknown."""
    return waited_of(Path("/proc/self/schedstat"))


def _written(pid: int | str = "self", field: str = "write_bytes") -> int:
    """Bytes this process caused to be written to storage (Linux /proc/<pid>/io), 0 where unknown.

    ``write_bytes`` counts each page cache folio a write dirties at its whole size: on kernels that
    cache files in large folios (6.x on ext4), 4 KiB written at random into a file read or written
    whole before can count 64 KiB while the disk gets the block alone. ``wchar`` (field="wchar")
    is what write calls were handed, pipes included: where the two differ, the folios inflate
    ``write_bytes``. (In this benchmark they agree within 2%.)
    """
    try:
        with open(f"/proc/{pid}/io") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith(f"{field}:"))
    except (OSError, StopIteration):
        return 0


def pss_mib(pids: list[int]) -> float:
    """Sum of the proportional set sizes of ``pids``: memory shared after fork counted once."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


class WalPeak:
    """The largest size of a SQLite file's ``-wal`` seen, polled every 2 ms in a thread until :meth:`stop`.

    A WAL cut back when it starts over (``journal_size_limit``) is cut by the
    commit after the checkpoint's last pass, each with a sync of its own: a
    peak lasts longer than a poll's interval. The thread's CPU is counted
    apart (:attr:`cpu`), as the PSS sampling's is.
    """

    def __init__(self, database_url: str) -> None:
        database = database_url.removeprefix("sqlite:///") if database_url.startswith("sqlite:///") else None
        self.path, self.bytes, self.cpu = (database + "-wal") if database else None, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="wal-peak", daemon=True)
        if self.path:
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            try:
                self.bytes = max(self.bytes, os.stat(self.path).st_size)
            except OSError:
                pass  # no WAL yet, or none any more
        self.cpu = time.thread_time()

    def stop(self) -> WalPeak:
        self._stop.set()
        if self.path:
            self._thread.join()
        return self


def _generate(workers: int, seed: int, year: int, month: int, inbox: str, part: int, parts: int, queue) -> None:
    lifeline.die_with(multiprocessing.parent_process().pid)  # not left running should the benchmark be killed
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
    lifeline.die_with(multiprocessing.parent_process().pid)  # not left running should the benchmark be killed
    start = Usage.now()
    hub = bootstrap(settings)
    watcher = DropWatcher(settings, [ADAPTER], hub.pipeline, batch_files=batch_files)
    settle_garbage_collector()  # as the watcher role does
    done = failed = 0
    while outcomes := watcher.scan_once(limit=2000):
        done += sum(o.status == "done" for o in outcomes)
        failed += sum(o.status != "done" for o in outcomes)
    hub.close()
    queue.put((done, failed, Usage.now().since(start)))


def _consume(url: str, routes, queue_name: str, stop, queue) -> None:
    """The receiving agency's consumer (``--consume``): take and ack every delivery until told to stop."""
    lifeline.die_with(multiprocessing.parent_process().pid)  # not left running should the benchmark be killed
    start, taken = Usage.now(), 0
    with open_transport(url, routes=routes) as transport:
        taken = transport.consume(queue_name, lambda delivery: None, prefetch=256, stop=stop)
    queue.put(("consumer", taken, Usage.now().since(start)))


def _start_consumer(args, settings: Settings, routes, context):
    """The consumer process and its stop event and result queue, or Nones without ``--consume``."""
    if not args.consume:
        return None, None, None
    stop, queue = context.Event(), context.Queue()
    proc = context.Process(target=_consume, args=(settings.effective_broker_url, routes,
                                                  routes.queue("licensing").name, stop, queue))
    proc.start()
    return proc, stop, queue


def _wait_consumed(transport, queue_name: str) -> None:
    """Until the consumer has taken and acked every message on ``queue_name``."""
    while any(s.ready + s.unacked for s in transport.queue_stats() if s.name == queue_name):
        time.sleep(0.05)


def process(args, settings: Settings) -> dict:
    """Watchers in child processes, the relay here (and with ``--consume`` a consumer); returns the figures."""
    hub = bootstrap(settings)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    started, start, load_before = time.perf_counter(), Usage.now(), os.getloadavg()
    wal = WalPeak(settings.effective_database_url)
    procs = [context.Process(target=_watch, args=(settings, args.batch_files, queue)) for _ in range(args.processes)]
    for proc in procs:
        proc.start()
    # on a shared RabbitMQ: queues of its own, removed afterwards (a month is 2.4 GB of envelopes)
    shared = transport_class(settings.effective_broker_url).capabilities.shared_server
    prefix = f"bench-wage-{uuid.uuid4().hex[:8]}." if shared else ""
    routes = load_routes().with_prefix(prefix)
    with hub.open_transport() as transport:
        transport.declare(routes)
        try:
            consumer, stop, consumed = _start_consumer(args, settings, routes, context)
            published, peak_pss, sampling = _relay(args, hub, transport, procs)
            if consumer is not None:
                _wait_consumed(transport, routes.queue("licensing").name)
                stop.set()
                consumer_usage = consumed.get()[2]
                consumer.join()
            wall, relay_usage, wal = time.perf_counter() - started, Usage.now().since(start), wal.stop()
            stats = {q.name.removeprefix(prefix): q for q in transport.queue_stats()}
        finally:
            if prefix:
                transport.undeclare(routes)
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    hub.close()
    children = [usage for _, _, usage in results] + ([consumer_usage] if consumer is not None else [])
    relay = _own(relay_usage, children)
    # the sampling of PSS is this benchmark's own work, not the relay's: counted apart
    relay = replace(relay, cpu=relay.cpu - sampling - wal.cpu)
    return {"wall": wall, "relay": relay, "published": published, "results": results, "wal": wal,
            "queues": stats, "pss": peak_pss, "sampling": sampling, "load": (load_before, os.getloadavg()),
            "consumer": consumer_usage if consumer is not None else None}


def _relay(args, hub, transport, procs) -> tuple[int, float, float]:
    """Relay the outbox until the watchers are done and it is empty; (published, peak PSS in MiB, CPU seconds
    spent sampling PSS: reading smaps_rollup walks each process's page tables, a few ms a time)."""
    relay = OutboxRelay(hub.log, transport, batch_size=args.relay_batch)
    published, peak_pss, sampled, sampling = 0, 0.0, 0.0, 0.0
    while any(proc.is_alive() for proc in procs):
        sent = relay.relay_once()
        published += sent
        if time.perf_counter() - sampled > 0.5:
            sampled = time.perf_counter()
            cpu = time.process_time()
            peak_pss = max(peak_pss, pss_mib([os.getpid(), *(p.pid for p in procs)]))
            sampling += time.process_time() - cpu
        if sent == 0:
            time.sleep(0.05)
    return published + relay.drain(), peak_pss, sampling


def _own(parent: Usage, children: list[Usage]) -> Usage:
    """The parent's usage less its children's I/O.

    Linux adds a child's I/O counts to its parent's ``/proc/self/io`` when the
    parent reaps it (``is_alive()`` does), so the relay's figure held every
    watcher's writes a second time; each watcher counts its own from its start.
    CPU times come from ``RUSAGE_SELF``, which never includes children.
    """
    return replace(parent, written=parent.written - sum(c.written for c in children),
                   handed=parent.handed - sum(c.handed for c in children))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2_000_000, help="population size (≈ salary lines)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--month", default="2026-02", help="YYYY-MM")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="watcher processes")
    parser.add_argument("--batch-files", type=int, default=128, help="files per slice: read, checked, stored in one transaction")
    parser.add_argument("--relay-batch", type=int, default=500, help="messages per relay round")
    parser.add_argument("--consume", action="store_true",
                        help="a consumer process takes and acks the licensing queue, as the receiving agency does")
    parser.add_argument("--key-type", choices=sorted(KEYS), default="ec", help="hub signing key (default: ec)")
    parser.add_argument("--broker", default="", help="transport URL (default: embedded SQLite broker)")
    parser.add_argument("--postgres", metavar="ADMIN_URL", default=None,
                        help="message log in a fresh database on this PostgreSQL server, e.g. "
                             "postgresql://postgres@127.0.0.1:5432/postgres (default: SQLite in the temp folder)")
    parser.add_argument("--dir", default="/var/tmp" if os.path.isdir("/var/tmp") else None,
                        help="parent of the temporary folder (default: /var/tmp, see above)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    args.year, args.month = (int(part) for part in args.month.split("-"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="wage-month-", dir=args.dir))
    try:
        with _database(args.postgres) as database_url:
            settings = Settings(home=home, broker_url=args.broker, database_url=database_url)
            init_pki(settings.pki_dir, ["centralbank", "licensing"], key_type=args.key_type)
            inbox = settings.drop_dir / "centralbank" / "inbox"
            inbox.mkdir(parents=True)
            files, lines, gen_seconds = generate(args, inbox)
            print(f"generated {files:,} files, {lines:,} salary lines in {gen_seconds:.1f}s in {home}",
                  file=sys.stderr)
            figures = process(args, settings)
        report(args, files, lines, gen_seconds, figures)
    finally:
        if args.keep:
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    return 0


def _database(admin_url: str | None):
    """A fresh PostgreSQL database for the run (its URL), or "" for SQLite in the temporary folder."""
    if admin_url is None:
        return contextlib.nullcontext("")
    from end_to_end_stack import fresh_postgres  # only then: it imports the demo stack

    return fresh_postgres(admin_url)


def report(args, files: int, lines: int, gen_seconds: float, figures: dict) -> None:
    wall, relay = figures["wall"], figures["relay"]
    watchers = [usage for _, _, usage in figures["results"]]
    done = sum(r[0] for r in figures["results"])
    failed = sum(r[1] for r in figures["results"])
    cpu = relay.cpu + sum(u.cpu for u in watchers)
    licensing = figures["queues"].get("licensing")
    print(f"broker            {args.broker or 'embedded SQLite'}")
    print(f"message log       {'PostgreSQL (fresh database)' if args.postgres else 'SQLite'}")
    print(f"hub signing key   {KEYS[args.key_type]}")
    print(f"watcher processes {args.processes} (+ relay in the parent), {args.batch_files} files per transaction")
    print(f"files             {files:,} generated, {done:,} accepted, {failed:,} not accepted")
    print(f"salary lines      {lines:,}")
    print(f"published         {figures['published']:,} messages"
          + (f" (licensing queue holds {licensing.ready:,})" if licensing is not None else ""))
    print(f"generation        {gen_seconds:.1f} s (not in the figures below)")
    print(f"wall time         {wall:.1f} s  (drop -> done/ + published)")
    print(f"files/s           {files / wall:,.0f}")
    print(f"records/s         {lines / wall:,.0f}")
    print(f"CPU time          {cpu:.1f} s, {1000 * cpu / max(files, 1):.2f} ms per file (watchers "
          f"{sum(u.cpu for u in watchers):.1f}, relay {relay.cpu:.1f}; system {relay.system + sum(u.system for u in watchers):.1f})")
    # what held the watchers back: a run queue shared with other jobs (waited), or the disk and the log's
    # writer lock (blocked: each commit's sync, each turn at the lock)
    print(f"watchers waited   {sum(u.waited for u in watchers):.1f} s runnable for a core (all watchers; they ran "
          f"{sum(u.cpu for u in watchers):.1f} s), blocked {sum(u.blocked for u in watchers):,} times")
    written = sum(u.written for u in watchers)
    print(f"written to disk   {(relay.written + written) / 2**30:.2f} GiB, {(relay.written + written) / files / 1024:.0f} KiB "
          f"per file (watchers {written / 2**30:.2f}, relay {relay.written / 2**30:.2f}; dirtied page cache)")
    handed = sum(u.handed for u in watchers)
    print(f"handed to write() {(relay.handed + handed) / 2**30:.2f} GiB, {(relay.handed + handed) / files / 1024:.0f} KiB "
          f"per file (watchers {handed / 2**30:.2f}, relay {relay.handed / 2**30:.2f})")
    consumer = figures["consumer"]
    if consumer is not None:
        # whichever process commits past the WAL's limit checkpoints: the consumer's pages may be written by the relay
        every = relay.handed + handed + consumer.handed
        print(f"consumer          {consumer.cpu:.1f} s CPU, {consumer.system:.1f} system (not in the CPU above); "
              f"{consumer.handed / files / 1024:.0f} KiB per file handed to write(), with all the others' "
              f"{every / files / 1024:.0f} KiB")
    print(f"peak RSS          relay/parent {relay.rss_mib:.0f} MiB, largest watcher "
          f"{max(u.rss_mib for u in watchers):.0f} MiB, sum {relay.rss_mib + sum(u.rss_mib for u in watchers):.0f} MiB")
    print(f"peak memory       {figures['pss']:.0f} MiB (PSS of all processes, sampled every 0.5 s; the sampling's "
          f"{figures['sampling']:.1f} s CPU is not in the CPU above)")
    wal = figures["wal"]
    if wal.path:
        from hub.messagelog import checkpoints

        print(f"largest WAL       {wal.bytes / 2**20:.1f} MiB, budget "
              f"{getattr(checkpoints, 'WAL_PAGES', 16384) * 4096 / 2**20:.0f} MiB (sampled every 2 ms; "
              f"{wal.cpu:.1f} s CPU, not in the CPU above)")
    before, after = figures["load"]
    print(f"load average      {before[0]:.1f} before, {after[0]:.1f} after (1 min; {os.cpu_count()} cores)")


if __name__ == "__main__":
    sys.exit(main())
