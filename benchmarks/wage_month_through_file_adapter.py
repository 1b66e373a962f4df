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
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.outbox import OutboxRelay
from hub.pki import init_pki
from hub.routing import Routes, load_routes
from hub.transports import transport_class
from wage_month_children import LicensingConsumer, collect, generate, start_watchers
from wage_month_report import KEYS, report
from wage_month_usage import Usage, WalPeak, own_usage, pss_mib


def process(args, settings: Settings) -> dict:
    """Watchers in child processes, the relay here (and with ``--consume`` a consumer); returns the figures."""
    hub = bootstrap(settings)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    started, start, load_before = time.perf_counter(), Usage.now(), os.getloadavg()
    wal = WalPeak(settings.effective_database_url)
    procs = start_watchers(settings, args, context, queue)
    prefix, routes = _routes(settings)
    with hub.open_transport() as transport:
        transport.declare(routes)
        try:
            consumer = LicensingConsumer(settings, routes, context) if args.consume else None
            published, peak_pss, sampling = _relay(args, hub, transport, procs)
            consumer_usage = consumer.finish(published) if consumer is not None else None
            wall, relay_usage, wal = time.perf_counter() - started, Usage.now().since(start), wal.stop()
            stats = {q.name.removeprefix(prefix): q for q in transport.queue_stats()}
        finally:
            if prefix:
                transport.undeclare(routes)
    results = collect(procs, queue)
    hub.close()
    children = [usage for _, _, usage in results] + ([consumer_usage] if consumer_usage is not None else [])
    relay = own_usage(relay_usage, children)
    # the sampling of PSS is this benchmark's own work, not the relay's: counted apart
    relay = replace(relay, cpu=relay.cpu - sampling - wal.cpu)
    return {"wall": wall, "relay": relay, "published": published, "results": results, "wal": wal,
            "queues": stats, "pss": peak_pss, "sampling": sampling, "load": (load_before, os.getloadavg()),
            "consumer": consumer_usage}


def _routes(settings: Settings) -> tuple[str, Routes]:
    """The queues' prefix and the topology: on a shared RabbitMQ, queues of this run's own, removed afterwards
    (a month is 2.4 GB of envelopes); on the embedded broker, the names as they are."""
    shared = transport_class(settings.effective_broker_url).capabilities.shared_server
    prefix = f"bench-wage-{uuid.uuid4().hex[:8]}." if shared else ""
    return prefix, load_routes().with_prefix(prefix)


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


if __name__ == "__main__":
    sys.exit(main())
