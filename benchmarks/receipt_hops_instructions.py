"""What the hub's receipts role pays in its log write per outcome a DeliveryReceipt tells of: instructions or CPU.

    python benchmarks/receipt_hops_instructions.py                      # callgrind, SQLite, 8 receipts of 100
    python benchmarks/receipt_hops_instructions.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/receipt_hops_instructions.py --cpu 40 --postgres ADMIN_URL    # CPU time instead

The log write of one receipt, :meth:`MessageLog.store_report`: the receipt
stored as sent, then one chain record (``applied``) per message it lists and
those messages' status — what ``hub.receipts.ReceiptDesk`` writes after
checking the receipt (its verify and sign are the same whatever it lists and
are not measured here). First ``--outcomes`` pushes' records are written to
a fresh log (SQLite in a temporary folder, or a scratch database on
``--postgres``) for every receipt, then the receipts, each naming
``--outcomes`` of them. Under callgrind the child runs twice, with
``--receipts`` receipts and with none, everything else the same (the
pushes written for them too), and the
difference per outcome is printed; the database server's own work is another
process's and is not counted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import callgrind
from log_write_instructions import records
from push_instructions import scratch_database

#: receipts written before the measured ones, so that every statement is prepared and planned
WARM = 4


def report(n: int, outcomes: int):
    """Licensing's receipt ``n`` as the hub stores it (the checked record), and its ``applied`` hops."""
    from hub.messagelog import Accepted

    now = datetime.now(timezone.utc)
    record = Accepted(
        message_id=f"hub-rcpt-{n:06d}", message_type="DeliveryReceipt", source_agency="licensing",
        destination="hub", routing_key="hub.DeliveryReceipt.licensing", raw=b"<Receipt>" + b"o" * 160 * outcomes,
        envelope=b"<Envelope>" + b"e" * 200 * outcomes, correlation_id=None, source_system="licensing",
        source_message_id=f"licensing-rcpt-{n:06d}", created_at=now, received_at=now, search_terms=())
    hops = [(f"msg-{n * outcomes + k:08d}", "applied", f"licensing applied it (receipt licensing-rcpt-{n:06d})", None)
            for k in range(outcomes)]
    return record, hops


def child(receipts: int, outcomes: int, postgres: str | None, room: int) -> float:
    """Write the pushes ``room`` receipts name (the same with any ``receipts``), then WARM and ``receipts``
    receipts; CPU seconds of the ``receipts`` ones."""
    from hub.messagelog import open_message_log

    with tempfile.TemporaryDirectory(prefix="rabt-hops-") as work, scratch_database(postgres) as database:
        with open_message_log(database or f"sqlite:///{Path(work) / 'messages.sqlite3'}") as log:
            for record, _receipt in records(0, (WARM + room) * outcomes):
                log.accept(record)
            for n in range(WARM):
                log.store_report(*report(n, outcomes))
            started = time.process_time()
            for n in range(WARM, WARM + receipts):
                log.store_report(*report(n, outcomes))
            return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=8, help="receipts measured (after WARM)")
    parser.add_argument("--outcomes", type=int, default=100, help="messages each receipt lists")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="the log on a scratch database of this server")
    parser.add_argument("--cpu", type=int, metavar="N", help="N receipts, CPU time per outcome (no valgrind)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--room", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child, args.outcomes, args.postgres, args.room)
        return 0
    where = "PostgreSQL" if args.postgres else "SQLite"
    if args.cpu:
        seconds = child(args.cpu, args.outcomes, args.postgres, args.cpu)
        print(f"{args.cpu} receipts of {args.outcomes} outcomes, {where}: "
              f"{seconds / (args.cpu * args.outcomes) * 1e6:.1f} µs CPU per outcome")
        return 0
    extra = ["--outcomes", str(args.outcomes), "--room", str(args.receipts)]
    extra += ["--postgres", args.postgres] if args.postgres else []
    per = callgrind.per_item(__file__, args.receipts, *extra) / args.outcomes
    print(f"{args.receipts} receipts of {args.outcomes} outcomes, {where}: {per:,.0f} instructions per outcome")
    return 0


if __name__ == "__main__":
    sys.exit(main())
