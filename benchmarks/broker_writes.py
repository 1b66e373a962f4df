"""Bytes the embedded broker writes per message: publish in batches, then consume and ack them all.

    python benchmarks/broker_writes.py                      # 20,000 messages of 13 KB
    python benchmarks/broker_writes.py --size 9000 --batches 10

Prints, for the publish and the consume, KiB per message as the kernel counted
the dirtied page cache (``write_bytes``) and as handed to write calls
(``wchar``), CPU per message (user, system), and the file's size per message.
The broker file goes in a temporary folder under ``/var/tmp`` (on disk).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import uuid

from hub.routing import load_routes
from hub.transports.base import Message
from hub.transports.sqlite import SqliteTransport


def io(field: str) -> int:
    """A counter of this process's /proc/self/io."""
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(f"{field}:"))


class Meter:
    """Counters at construction; :meth:`line` says what changed since, per message."""

    def __init__(self) -> None:
        self.written, self.handed, self.usage = io("write_bytes"), io("wchar"), resource.getrusage(resource.RUSAGE_SELF)

    def line(self, what: str, count: int) -> str:
        os.sync()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return (f"{what:8s} {(io('write_bytes') - self.written) / count / 1024:6.1f} KiB/message written "
                f"({(io('wchar') - self.handed) / count / 1024:.1f} handed to write calls), "
                f"user {(usage.ru_utime - self.usage.ru_utime) / count * 1e3:.3f} ms, "
                f"system {(usage.ru_stime - self.usage.ru_stime) / count * 1e3:.3f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500, help="messages per publish (the relay's batch)")
    parser.add_argument("--size", type=int, default=13_000, help="body bytes (a wage envelope: 9-13 KB)")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="broker-writes-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    try:
        routes, count = load_routes(), args.batches * args.batch
        with SqliteTransport(f"sqlite:///{folder}/broker.sqlite3", routes=routes) as transport:
            transport.declare(routes)
            body = os.urandom(args.size // 2).hex().encode()  # text-like, incompressible
            meter = Meter()
            for _ in range(args.batches):
                transport.publish([Message(body, "licensing.WageReport.centralbank", uuid.uuid4().hex)
                                   for _ in range(args.batch)])
            print(meter.line("publish", count))
            print(f"file     {os.path.getsize(f'{folder}/broker.sqlite3') / count / 1024:.1f} KiB/message")
            meter = Meter()
            taken = transport.consume(routes.queue("licensing").name, lambda delivery: None, idle_timeout=0.2)
            print(meter.line("consume", taken))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
