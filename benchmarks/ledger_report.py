"""CPU time of a worker's disclosure report, for a worker with thousands of messages among many others.

    python benchmarks/ledger_report.py                       # 5,000 of 50,000 messages, SQLite
    python benchmarks/ledger_report.py --mine 20000 --others 200000
    python benchmarks/ledger_report.py --database-url postgresql://postgres@127.0.0.1/NAME   # an empty database

Fills a message log (through the log's own batch store, with search terms and a
legal basis per message, as the pipeline stores them) and then asks for the
worker's report page by page: prints the process's CPU time per page (reading
the page, signing it, chaining the look-up) for the first and the last page and
for the whole walk, so a page's cost can be seen not to grow with the page's
position or the log's size. Wall-clock time is printed too, but on a shared host
only the CPU figures compare between runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

BATCH = 1000
BASIS = "Foreigners' Residence Law, art. 17 (illustrative)"


def envelope(civil: str) -> bytes:
    return (f'<rabt:Envelope xmlns:rabt="urn:rabt:canonical:v1"><rabt:Body><rabt:ResidenceRenewal><rabt:Worker>'
            f"<rabt:CivilNumber>{civil}</rabt:CivilNumber></rabt:Worker></rabt:ResidenceRenewal></rabt:Body>"
            f"</rabt:Envelope>").encode()


def fill(log, mine: int, others: int, worker: str) -> None:
    """``mine`` messages about ``worker`` spread evenly among ``others`` about other people."""
    from hub.messagelog import Accepted

    total, every = mine + others, max(1, (mine + others) // max(1, mine))
    records = []
    for number in range(total):
        civil = worker if number % every == 0 and number // every < mine else f"{30000000 + number:09d}"
        records.append(Accepted(
            message_id=str(uuid.uuid4()), message_type="ResidenceRenewal", source_agency="police",
            destination="licensing", routing_key="licensing.ResidenceRenewal.police", raw=envelope(civil),
            envelope=envelope(civil), source_message_id=f"B-{number}", legal_basis=BASIS))
        if len(records) == BATCH:
            log.accept_many(records, enqueue=False)
            records = []
    if records:
        log.accept_many(records, enqueue=False)


def walk(ledger, worker: str, limit: int) -> list[tuple[int, float, float]]:
    """(entries, CPU s, wall s) per page, first to last."""
    from hub.jws import payload_of
    from hub.messagelog.ledger import Window

    pages, after = [], 0
    while True:
        cpu, wall = time.process_time(), time.perf_counter()
        report = payload_of(ledger.report(worker, asked_by="benchmark", window=Window(after=after, limit=limit)))
        pages.append((len(report["entries"]), time.process_time() - cpu, time.perf_counter() - wall))
        after = report["page"]["next_after"]
        if after is None:
            return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mine", type=int, default=5000, help="messages about the worker")
    parser.add_argument("--others", type=int, default=50000, help="messages about other people")
    parser.add_argument("--limit", type=int, default=100, help="entries per page")
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary folder)")
    args = parser.parse_args()

    from hub.ledger import DisclosureLedger
    from hub.messagelog import open_message_log
    from hub.pki import init_pki
    from hub.signing import Signer, TrustStore

    with tempfile.TemporaryDirectory() as folder:
        init_pki(Path(folder) / "pki", [])
        signer = Signer(TrustStore.load(Path(folder) / "pki").hub)
        log = open_message_log(args.database_url or f"sqlite:///{folder}/log.sqlite3")
        worker = "120339847"
        started = time.perf_counter()
        fill(log, args.mine, args.others, worker)
        print(f"log: {args.mine + args.others} messages, {args.mine} about the worker "
              f"(filled in {time.perf_counter() - started:.0f} s, {log.engine.dialect.name})")
        pages = walk(DisclosureLedger(log, signer), worker, args.limit)
        log.close()
    first, last = pages[0], pages[-2] if len(pages) > 1 and pages[-1][0] < args.limit else pages[-1]
    print(f"pages of {args.limit}: {len(pages)}, {sum(p[0] for p in pages)} entries")
    print(f"first page: {first[1] * 1000:.1f} ms CPU ({first[2] * 1000:.1f} ms wall)")
    print(f"last full page: {last[1] * 1000:.1f} ms CPU ({last[2] * 1000:.1f} ms wall)")
    cpu = sum(p[1] for p in pages)
    print(f"whole walk: {cpu:.2f} s CPU, {cpu / max(1, sum(p[0] for p in pages)) * 1e6:.0f} µs CPU per entry")


if __name__ == "__main__":
    main()
