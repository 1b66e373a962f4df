"""The consume loop of the embedded broker: claim, handle, then settle each row.

Settling (ack, delayed retry, dead letter) only touches a row this loop still
leases (``lease_owner`` = this loop), so a consumer whose lease ran out and
was overtaken cannot ack or retry a message someone else now holds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable

from hub.transports import sqlite_store as store
from hub.transports.base import Delivery, Failure, Handler

_HEARTBEAT = 5.0


class ConsumeLoop:
    """One ``consume()`` call on one queue, with its own lease owner id."""

    def __init__(self, conn: sqlite3.Connection, queue: str, handler: Handler, delays: tuple[float, ...],
                 max_attempts: int, *, lease: float, poll: float,
                 classify: Callable[[BaseException], Failure]) -> None:
        self.conn, self.queue, self.handler = conn, queue, handler
        self.delays, self.max_attempts = delays, max_attempts
        self.lease, self.poll, self.classify = lease, poll, classify
        self.owner = uuid.uuid4().hex
        self._acks: list[tuple[int, str]] = []
        self._seen_at = 0.0

    def run(self, *, prefetch: int, max_messages: int | None, idle_timeout: float | None,
            stop: threading.Event | None) -> int:
        """Handle deliveries until max_messages, idle_timeout or stop; return how many."""
        handled, last_seen, pause = 0, time.monotonic(), 0.001
        try:
            while not (stop and stop.is_set()) and (max_messages is None or handled < max_messages):
                self._heartbeat()
                want = prefetch if max_messages is None else min(prefetch, max_messages - handled)
                rows = store.claim(self.conn, self.queue, self.owner, max(want, 1), self.lease)
                if rows:
                    handled += self._handle_batch(rows, stop)
                    last_seen, pause = time.monotonic(), 0.001
                    continue
                if idle_timeout is not None and time.monotonic() - last_seen >= idle_timeout:
                    break
                time.sleep(pause)
                pause = min(pause * 2, self.poll)
        finally:
            self._flush_acks()
            self.conn.execute("DELETE FROM consumers WHERE owner = ?", (self.owner,))
        return handled

    def _heartbeat(self) -> None:
        now = time.time()
        if now - self._seen_at > _HEARTBEAT:
            self._seen_at = now
            self.conn.execute("INSERT OR REPLACE INTO consumers VALUES (?, ?, ?)", (self.owner, self.queue, now))

    def _handle_batch(self, rows: list[tuple], stop: threading.Event | None) -> int:
        handled = 0
        for index, row in enumerate(rows):
            if stop and stop.is_set():
                self._release([r[0] for r in rows[index:]])
                break
            self._handle(row)
            handled += 1
        self._flush_acks()
        return handled

    def _handle(self, row: tuple) -> None:
        row_id, attempt, deliveries = row[:3]
        delivery = Delivery(store.row_message(row[3:]), self.queue, attempt, redelivered=deliveries > 0)
        try:
            self.handler(delivery)
        except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes
            self._fail(row_id, row, attempt, self.classify(exc))
        else:
            # acks are batched: a crash before the flush means redelivery, never loss
            self._acks.append((row_id, self.owner))

    def _flush_acks(self) -> None:
        if self._acks:
            with store.immediate(self.conn) as conn:
                conn.executemany("DELETE FROM messages WHERE id = ? AND lease_owner = ?", self._acks)
            self._acks = []

    def _release(self, ids: list[int]) -> None:
        with store.immediate(self.conn) as conn:
            conn.executemany(
                "UPDATE messages SET available_at = ?, lease_owner = NULL, deliveries = deliveries - 1"
                " WHERE id = ? AND lease_owner = ?", [(time.time(), i, self.owner) for i in ids])

    def _fail(self, row_id: int, row: tuple, attempt: int, failure: Failure) -> None:
        if failure.retry and attempt < self.max_attempts:
            self._retry(row_id, row, attempt, failure)
        else:
            self._dead_letter(row_id, row, attempt, failure)

    def _retry(self, row_id: int, row: tuple, attempt: int, failure: Failure) -> None:
        delay = self.delays[min(attempt - 1, len(self.delays) - 1)]
        with store.immediate(self.conn) as conn:
            conn.execute(
                "UPDATE messages SET attempt = ?, deliveries = 0, available_at = ?, lease_owner = NULL,"
                " reason = ?, code = ? WHERE id = ? AND lease_owner = ?",
                (attempt + 1, time.time() + delay, failure.reason, failure.code, row_id, self.owner),
            )

    def _dead_letter(self, row_id: int, row: tuple, attempt: int, failure: Failure) -> None:
        with store.immediate(self.conn) as conn:
            gone = conn.execute("DELETE FROM messages WHERE id = ? AND lease_owner = ?", (row_id, self.owner))
            if gone.rowcount:
                conn.execute(
                    f"INSERT INTO dead_letters (queue, reason, code, attempts, dead_lettered_at,"
                    f" {store.MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.queue, failure.reason, failure.code, attempt, time.time(), *row[3:]),
                )
