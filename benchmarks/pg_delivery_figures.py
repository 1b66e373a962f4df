"""What a delivered message costs the log's PostgreSQL server: push, relay and receipt, counted on the server.

    python benchmarks/pg_delivery_figures.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/pg_delivery_figures.py --postgres … --count 600 --cpu-only   # server CPU, no tracing

``push_instructions.py --batch 0`` counts the gateway's write alone. A message
is written again after it: the relay marks it published, and a destination's
receipt stores itself with a hop per message it lists, setting their
statuses. Here one process does all three in turn, in process, over the
embedded broker: ``--batch`` pushes through the gateway's WSGI app, one relay
round, then one signed-looking DeliveryReceipt listing the batch, stored as
the receipts role stores it (``store_report``). After 64 pushes to warm up,
``--count`` more are measured on a scratch database (made and dropped here):
the server processes' CPU per push (``pg_figures.ServerCpu``, noisy on a
shared machine: alternate the versions compared) and, unless ``--cpu-only``,
the statements, round trips and WAL per push (``pg_figures.ServerFigures``),
then each table's inserts, updates and HOT updates as the server counted them
(its statistics arrive up to a second late: a share, not a total).
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import uuid
from pathlib import Path

import psycopg

from pg_figures import ServerCpu, ServerFigures
from push_instructions import WARM, InProcessGateway, scratch_database, signed_requests


def receipt_for(message_ids: list[str]):
    """A delivery receipt from licensing listing ``message_ids``, about the size of a signed one."""
    from hub.messagelog import Accepted

    receipt_id = str(uuid.uuid4())
    body = ("<Receipt>" + "".join(f"<Item id='{mid}'>applied</Item>" for mid in message_ids)
            + f"<Signature>{base64.b64encode(os.urandom(900)).decode()}</Signature></Receipt>").encode()
    return Accepted(message_id=receipt_id, message_type="DeliveryReceipt", source_agency="licensing",
                    destination="hub", routing_key="hub.DeliveryReceipt.licensing", raw=body, envelope=body,
                    source_message_id=receipt_id, search_terms=())


def deliver(gateway: InProcessGateway, bodies: list[bytes], batch: int) -> None:
    """Push ``bodies``; after every ``batch`` a relay round, then one receipt for what it published."""
    log = gateway.hub.log
    for start in range(0, len(bodies), batch):
        for body in bodies[start:start + batch]:
            gateway.push(body)
        published = [pending.message_id for pending in log.unpublished(10 * batch)]
        gateway.relay.drain()
        if published:
            log.store_report(receipt_for(published), [(mid, "applied", "licensing applied it", None)
                                                      for mid in published])


_UPDATES = "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE n_tup_ins > 0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, metavar="ADMIN_URL", help="a server that may create databases")
    parser.add_argument("--count", type=int, default=256, help="pushes measured (after 64 to warm up)")
    parser.add_argument("--batch", type=int, default=16, help="pushes per relay round and per receipt")
    parser.add_argument("--cpu-only", action="store_true", help="server CPU only: no statement tracing, no WAL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rabt-delivery-") as work, scratch_database(args.postgres) as database:
        home = Path(work)
        figures = None if args.cpu_only else ServerFigures(args.postgres, database)
        gateway = InProcessGateway(home, f"sqlite:///{home / 'broker.sqlite3'}", "ec", database)
        try:
            bodies = signed_requests(home / "pki", WARM + args.count, 0)
            deliver(gateway, bodies[:WARM], args.batch)
            server = ServerCpu(args.postgres, database)
            if figures:
                figures.start()
            deliver(gateway, bodies[WARM:], args.batch)
            used = server.used()
            print(f"{args.count} pushes, relayed and receipted by {args.batch}: "
                  f"server {used.seconds / args.count * 1000:.3f} ms CPU per push")
            if figures:
                print(figures.stop().summary(args.count))
                figures.close()
                with psycopg.connect(database, autocommit=True) as conn:
                    for table, inserted, updated, hot in conn.execute(_UPDATES):
                        print(f"  {table:<14} inserted {inserted:>6}, updated {updated:>6}, of them HOT {hot:>6}")
        finally:
            gateway.close()


if __name__ == "__main__":
    main()
