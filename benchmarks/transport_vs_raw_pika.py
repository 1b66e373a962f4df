"""Throughput: raw pika vs the hub's AmqpTransport, same bytes, same guarantees.

Both sides publish N persistent 2 KB messages to a quorum queue with
publisher confirms (at most WINDOW unconfirmed), then consume them with
manual acks and the same prefetch. Raw pika is the fastest honest baseline:
a SelectConnection driving confirms and acks from callbacks. The SQLite
transport's rate is printed for information.

    python benchmarks/transport_vs_raw_pika.py --count 20000
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
import uuid
from pathlib import Path

from hub.routing import load_routes
from hub.transports import Message, open_transport
from hub.transports.testing import DEFAULT_AMQP_URL
from raw_pika import RawPika, rates

BODY = b"<m>" + b"x" * (2048 - 7) + b"</m>"


def run_hub(url: str, count: int, prefetch: int, **opts) -> dict[str, float]:
    """The same flow through a Transport: publish (confirmed), consume, ack."""
    routes = load_routes().with_prefix(f"bench-{uuid.uuid4().hex[:8]}.")
    messages = [Message(BODY, "licensing.Bench.police", f"hub-{i}") for i in range(count)]
    with open_transport(url, routes=routes, **opts) as transport:
        transport.declare(routes)
        marks = {"start": time.perf_counter()}
        for start in range(0, count, 5000):  # the way the outbox relay publishes: in batches
            transport.publish(messages[start:start + 5000])
        marks["published"] = time.perf_counter()
        got = transport.consume(routes.queue_for("licensing"), lambda d: None, prefetch=prefetch, max_messages=count)
        marks["consumed"] = time.perf_counter()
        if got != count:
            raise RuntimeError(f"hub consumed {got} of {count}")
        if hasattr(transport, "undeclare"):
            transport.undeclare(routes)
    return marks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--window", type=int, default=1024, help="unconfirmed publishes in flight")
    parser.add_argument("--prefetch", type=int, default=256)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args(argv)
    command = shlex.join(argv if argv is not None else sys.argv[1:])
    lines = [f"$ python benchmarks/{Path(__file__).name} {command}".rstrip(),
             f"{args.count} messages x {len(BODY)} bytes, persistent, quorum queue, confirms (window {args.window}),"
             f" manual acks (prefetch {args.prefetch})"]
    raw = rates(args.count, RawPika(args.url, f"bench-raw-{uuid.uuid4().hex[:8]}", args.count, args.window,
                                    args.prefetch, [BODY]).run())
    hub = rates(args.count, run_hub(args.url, args.count, args.prefetch, window=args.window))
    lines += [f"{'':<22} {'publish':>10} {'consume':>10} {'end-to-end':>11}  (msg/s)",
              f"{'raw pika':<22} {raw[0]:>10.0f} {raw[1]:>10.0f} {raw[2]:>11.0f}",
              f"{'hub AmqpTransport':<22} {hub[0]:>10.0f} {hub[1]:>10.0f} {hub[2]:>11.0f}",
              f"ratio hub/raw (end-to-end): {hub[2] / raw[2]:.2f}  (target >= 0.80)",
              "(raw pika acks every message; the hub acks each burst of handled deliveries with multiple=True)"]
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            lite = rates(args.count, run_hub(f"sqlite:///{tmp}/bench.sqlite3", args.count, args.prefetch))
        lines.append(f"{'hub SqliteTransport':<22} {lite[0]:>10.0f} {lite[1]:>10.0f} {lite[2]:>11.0f}  (information)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
