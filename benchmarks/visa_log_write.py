"""What the message log's one write of a visa check costs in CPU, alone and shared by a group of checks.

    python benchmarks/visa_log_write.py                    # groups of 1, 2 and 4 checks, SQLite
    python benchmarks/visa_log_write.py --writes 300 --groups 1 2 3 4 8

A visa check stores its exchange — the question, licensing's answer and the
hub's answer to the police — as sent, in one :meth:`MessageLog.store_sent`;
concurrent checks share that write through the group committer. Here each
write stores ``group`` checks' exchanges (three records each, bodies the size
of a real check's), on a fresh SQLite log in a temporary folder, and the
process CPU per write and per check is printed for each group size, the sizes
taken in turn, ``--rounds`` times. The difference between sizes is the cost
every commit pays whatever it holds (transaction, look-ups, the synced
commit's system time), which sharing divides.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hub.envelope import new_header
from hub.messagelog import Accepted, open_message_log

#: the message types and byte sizes of one visa check's three records (ECDSA keys)
EXCHANGE = (("VisaEligibilityQuery", 1985, 980), ("VisaEligibilityResult", 2652, 2652),
            ("CheckVisaEligibilityResponse", 2300, 2300))


def exchange() -> list[Accepted]:
    """One check's three records, with random bodies of their real sizes."""
    records = []
    for message_type, raw_size, envelope_size in EXCHANGE:
        raw = os.urandom(raw_size // 2).hex().encode()
        envelope = raw if envelope_size == raw_size else os.urandom(envelope_size // 2).hex().encode()
        header = new_header(message_type=message_type, source_agency="police", source_system="bench",
                            destination="licensing", raw_payload=raw)
        records.append(Accepted.from_header(header, raw, envelope))
    return records


def cpu_per_write(log, group: int, writes: int) -> float:
    """Milliseconds of process CPU per store_sent of ``group`` checks' exchanges."""
    batches = [[record for _ in range(group) for record in exchange()] for _ in range(writes)]
    started = time.process_time()
    for batch in batches:
        log.store_sent(batch)
    return (time.process_time() - started) * 1000 / writes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200, help="writes per group size and round")
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 2, 4], help="checks per write")
    parser.add_argument("--rounds", type=int, default=2, help="times every group size is measured, in turn")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="rabt-visa-log-write-"))
    try:
        log = open_message_log(f"sqlite:///{folder / 'messages.sqlite3'}")
        cpu_per_write(log, 1, 50)  # warm up
        for _ in range(args.rounds):
            for group in args.groups:
                ms = cpu_per_write(log, group, args.writes)
                print(f"{group} check(s) per write: {ms:.3f} ms CPU per write, {ms / group:.3f} per check")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
