"""What the message log's write path costs per accepted message, alone: instructions or CPU time.

    python benchmarks/log_write_instructions.py                 # callgrind, SQLite, 500 writes
    python benchmarks/log_write_instructions.py --relay 64      # and the relay's read + mark_published every 64
    python benchmarks/log_write_instructions.py --cpu 3000      # CPU per write instead (no valgrind)
    python benchmarks/log_write_instructions.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/log_write_instructions.py --postgres ADMIN_URL --cpu 3000 --groups 1-8 --relay 64

Each write is what the gateway does for one push: a record (a 2 KB payload,
a 4.5 KB signed envelope, search terms) with the hub's signed receipt as its
answer, through the group commit (:class:`hub.messagelog.GroupCommitter`),
one durable commit each. No parsing, signing or HTTP: ``push_instructions.py``
measures the whole push; this isolates the log. Under callgrind the child is
run twice, with ``--count`` writes and with none, everything else the same
(the log opened and 64 writes to warm it), and the difference per write is
printed. With ``--postgres ADMIN_URL`` each run writes to a scratch database
made on that server and dropped afterwards (see ``push_instructions.py``);
the server's own work is another process's and is not counted by callgrind;
with ``--cpu`` the CPU of the server processes serving the scratch database
(``/proc/PID/schedstat``, a server on this machine) is printed beside it,
with how often they were woken and this process switched out per write:
counts of round trips, which a busy shared machine does not blur as it
blurs CPU time. On PostgreSQL a further 128 writes are then counted (see
``pg_figures.py``): the statements sent, the commits and the WAL written per
write, by table and by kind of record — steady figures, where CPU is not.

``--groups 1-8`` writes the pushes in groups of 1, 2, … 8 pushes in turn,
each group one ``accept_many`` of a leader (what the group commit writes
under load, where a group is whatever queued meanwhile), instead of one push
per commit: statements whose text follows the row count show up there.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import callgrind
from pg_figures import Counted, ServerCpu, ServerFigures, Usage
from push_instructions import scratch_database

WARM = 64
#: writes counted for the PostgreSQL figures (statements, WAL), after the measured ones: two relay rounds of 64
FIGURED = 128


def records(first: int, count: int):
    """``count`` (record, receipt) pairs shaped like a police push and the gateway's receipt for it."""
    from hub.messagelog import Accepted

    now = datetime.now(timezone.utc)
    pairs = []
    for n in range(first, first + count):
        record = Accepted(
            message_id=f"msg-{n:08d}", message_type="WorkerArrived", source_agency="police",
            destination="licensing", routing_key="licensing.WorkerArrived.police",
            raw=b"<soap>" + b"r" * 2048 + f"{n}</soap>".encode(), envelope=b"<Envelope>" + b"e" * 4500 + b"</Envelope>",
            correlation_id=f"msg-{n:08d}", source_system="border", source_message_id=f"police-{n}",
            created_at=now, received_at=now, search_terms=("rajesh", "kumar", f"{n:010d}", f"EV-{n:010d}"))
        receipt = Accepted(
            message_id=f"rcpt-{n:08d}", message_type="Receipt", source_agency="hub", destination="police",
            routing_key="police.Receipt.hub", raw=b"<Receipt/>", envelope=b"<Envelope>" + b"s" * 3000 + b"</Envelope>",
            correlation_id=record.message_id, created_at=now, received_at=now, search_terms=())
        pairs.append((record, receipt))
    return pairs


def child(count: int, relay: int, postgres: str | None,
          groups: range | None = None) -> tuple[float, Usage | None, Counted | None]:
    """Open a log, write WARM then ``count`` pushes' records; CPU seconds of the ``count`` ours, the server's use,
    and on PostgreSQL the statements and WAL of FIGURED writes more.

    The server's use is None for SQLite, or when the server's processes cannot be read (not on this machine).
    """
    from hub.messagelog import GroupCommitter, open_message_log

    with tempfile.TemporaryDirectory(prefix="rabt-logwrite-") as work, scratch_database(postgres) as database:
        url = database or f"sqlite:///{Path(work) / 'messages.sqlite3'}"
        figures = ServerFigures(postgres, database) if database else None
        with open_message_log(url) as log:
            # one push per commit through the group commit, or groups as its leaders write them (one connection)
            writer = GroupCommitter(log) if groups is None else log.holding()
            warm, measured = records(0, WARM), records(WARM, count)
            write(log, writer, warm, relay, groups)
            server = ServerCpu(postgres, database) if database else None
            started, switched = time.process_time(), _switches()
            write(log, writer, measured, relay, groups)
            cpu, switched = time.process_time() - started, _switches() - switched
            served = server.used() if server else None
            counted = _counted(figures, log, writer, records(WARM + count, FIGURED), relay, groups)
            writer.close()
            if served is not None:
                served = served._replace(switches=switched)
            return cpu, served, counted


def _counted(figures: ServerFigures | None, log, writer, pairs, relay: int, groups: range | None) -> Counted | None:
    """The statements and WAL of writing ``pairs`` (None on SQLite)."""
    if figures is None:
        return None
    try:
        figures.start()
        write(log, writer, pairs, relay, groups)
        return figures.stop()
    finally:
        figures.close()


def _switches() -> int:
    """Times this process gave up its CPU to wait (for the server, mostly) so far; preemptions by a busy machine not."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def write(log, writer, pairs, relay: int, groups: range | None = None) -> None:
    """Write ``pairs`` through ``writer`` one at a time, or ``groups`` at a time; the relay's round every ``relay``."""
    sizes, done = itertools.cycle(groups or [1]), 0
    while done < len(pairs):
        group = pairs[done:done + next(sizes)]
        if groups is None:
            writer.accept(group[0][0], answer=group[0][1])
        else:
            writer.accept_many([record for record, _ in group],
                               answers={record.message_id: receipt for record, receipt in group})
        for _ in group:
            done += 1
            if relay and done % relay == 0:
                log.mark_published([pending.message_id for pending in log.unpublished(relay)])


def group_sizes(text: str) -> range:
    """``"1-8"`` → range(1, 9); ``"4"`` → range(4, 5)."""
    low, _, high = text.partition("-")
    sizes = range(int(low), int(high or low) + 1)
    if not sizes or sizes.start < 1:
        raise argparse.ArgumentTypeError(f"group sizes must be A-B with 1 <= A <= B, got {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="writes measured (after 64 to warm up)")
    parser.add_argument("--relay", type=int, default=0, metavar="N",
                        help="read the outbox and mark it published every N writes (0: never)")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="write to a scratch PostgreSQL database on this server")
    parser.add_argument("--cpu", type=int, metavar="N", help="N writes, CPU time per write only (no valgrind)")
    parser.add_argument("--groups", metavar="A-B", type=group_sizes,
                        help="pushes written A, A+1, … B at a time in turn, one accept_many each (default: one)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.relay, args.postgres, args.groups)
        return 0
    if args.postgres and not args.cpu:
        # the server's figures from a run of their own: under callgrind the child prints nothing
        *_, counted = child(0, args.relay, args.postgres, args.groups)
    where = "PostgreSQL" if args.postgres else "SQLite"
    relay = f"relay every {args.relay}" if args.relay else "no relay"
    grouped = f", groups of {args.groups.start}-{args.groups.stop - 1}" if args.groups else ""
    if args.cpu:
        cpu, server, counted = child(args.cpu, args.relay, args.postgres, args.groups)
        print(f"{args.cpu} writes ({where}, {relay}{grouped}): {cpu / args.cpu * 1e3:.3f} ms CPU per write"
              + ("" if server is None else f", server {server.seconds / args.cpu * 1e3:.3f} ms, "
                 f"{server.wakeups / args.cpu:.2f} server wake-ups and {server.switches / args.cpu:.2f} "
                 "writer switches per write"))
        if counted is not None:
            print(f"{FIGURED} writes more, counted:\n{counted.summary(FIGURED)}")
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    sizes = ["--groups", f"{args.groups.start}-{args.groups.stop - 1}"] if args.groups else []
    per_write = callgrind.per_item(__file__, args.count, "--relay", str(args.relay),
                                   *(["--postgres", args.postgres] if args.postgres else []), *sizes)
    print(f"writes            {args.count} ({where}, {relay}{grouped})")
    print(f"instructions      {per_write / 1e6:.3f} M per write")
    if args.postgres:
        print(f"{FIGURED} writes counted apart (no valgrind):\n{counted.summary(FIGURED)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
