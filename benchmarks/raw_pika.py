"""Raw pika baseline shared by the benchmarks: publish with confirms, consume with manual acks.

:class:`RawPika` is the fastest honest RabbitMQ flow for a set of bodies: a
SelectConnection publishing persistent messages to a fresh quorum queue with
publisher confirms (at most ``window`` unconfirmed), then consuming them with
manual acks and ``prefetch``, everything driven from callbacks. The queue is
deleted at the end. Import it from a script in ``benchmarks/`` (the folder
is on ``sys.path`` when a benchmark runs as ``python benchmarks/x.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pika


class RawPika:
    """Pipelined publish (window of confirms) then consume with manual acks, all from callbacks.

    ``bodies`` are published in turn (cycled when ``count`` is larger), so a
    caller can replay the exact bytes another path carried.
    """

    def __init__(self, url: str, queue: str, count: int, window: int, prefetch: int,
                 bodies: Sequence[bytes]) -> None:
        if not bodies:
            raise ValueError("RawPika needs at least one body to publish")
        self.url, self.queue, self.count, self.window, self.prefetch = url, queue, count, window, prefetch
        self.bodies = bodies
        self.sent = self.confirmed = self.received = 0
        self.failed = 0
        self.marks: dict[str, float] = {}

    def run(self) -> dict[str, float]:
        """Publish and consume ``count`` messages; perf_counter marks start/published/consumed."""
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
            body = self.bodies[self.sent % len(self.bodies)]
            self.sent += 1
            props = pika.BasicProperties(delivery_mode=2, message_id=f"raw-{self.sent}", content_type="application/xml")
            self.ch.basic_publish("", self.queue, body, props, mandatory=True)

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


def rates(count: int, marks: dict[str, float]) -> tuple[float, float, float]:
    """(publish msg/s, consume msg/s, end-to-end msg/s) from RawPika-style marks."""
    pub = marks["published"] - marks["start"]
    con = marks["consumed"] - marks["published"]
    return count / pub, count / con, count / (marks["consumed"] - marks["start"])
