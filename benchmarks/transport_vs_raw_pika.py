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

import pika

from hub.routing import load_routes
from hub.transports import Message, open_transport
from hub.transports.testing import DEFAULT_AMQP_URL

BODY = b"<m>" + b"x" * (2048 - 7) + b"</m>"


class RawPika:
    """Pipelined publish (window of confirms) then consume with manual acks, all from callbacks."""

    def __init__(self, url: str, queue: str, count: int, window: int, prefetch: int) -> None:
        self.url, self.queue, self.count, self.window, self.prefetch = url, queue, count, window, prefetch
        self.sent = self.confirmed = self.received = 0
        self.failed = 0
        self.marks: dict[str, float] = {}

    def run(self) -> dict[str, float]:
        self.conn = pika.SelectConnection(pika.URLParameters(self.url), on_open_callback=self._on_open,
                                          on_open_error_callback=self._on_error, on_close_callback=self._on_close)
        self.conn.ioloop.start()
        if self.failed or self.received != self.count:
            raise RuntimeError(f"raw pika run incomplete: received {self.received}, failed {self.failed}")
        return self.marks

    def _on_error(self, _conn, exc) -> None:
        self.conn.ioloop.stop()
        raise RuntimeError(f"cannot connect: {exc!r}")

    def _on_close(self, _conn, _reason) -> None:
        self.conn.ioloop.stop()

    def _on_open(self, conn) -> None:
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel) -> None:
        self.ch = channel
        channel.queue_declare(self.queue, durable=True, arguments={"x-queue-type": "quorum"},
                              callback=lambda _f: channel.confirm_delivery(self._on_confirm, callback=self._start))

    def _start(self, _frame) -> None:
        self.marks["start"] = time.perf_counter()
        self._pump()

    def _pump(self) -> None:
        while self.sent < self.count and self.sent - self.confirmed < self.window:
            self.sent += 1
            props = pika.BasicProperties(delivery_mode=2, message_id=f"raw-{self.sent}", content_type="application/xml")
            self.ch.basic_publish("", self.queue, BODY, props, mandatory=True)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        done = method.delivery_tag - self.confirmed if method.multiple else 1
        self.failed += done if isinstance(method, pika.spec.Basic.Nack) else 0
        self.confirmed += done
        if self.confirmed >= self.count:
            self.marks["published"] = time.perf_counter()
            self.ch.basic_qos(prefetch_count=self.prefetch,
                              callback=lambda _f: self.ch.basic_consume(self.queue, self._on_message))
        else:
            self._pump()

    def _on_message(self, channel, method, _props, _body) -> None:
        channel.basic_ack(method.delivery_tag)
        self.received += 1
        if self.received == self.count:
            self.marks["consumed"] = time.perf_counter()
            channel.queue_delete(self.queue, callback=lambda _f: self.conn.close())


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


def rates(count: int, marks: dict[str, float]) -> tuple[float, float, float]:
    """(publish msg/s, consume msg/s, end-to-end msg/s)."""
    pub = marks["published"] - marks["start"]
    con = marks["consumed"] - marks["published"]
    return count / pub, count / con, count / (marks["consumed"] - marks["start"])


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
                                    args.prefetch).run())
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
