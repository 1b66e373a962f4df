"""Idempotent consumption: a redelivered message changes nothing the second time.

Brokers deliver at least once (a crash before the ack, a relay that
re-publishes after a crash). A consumer with its own database wraps its work
in :meth:`IdempotentConsumer.apply_once`: the work and the record "consumer C
processed message M" commit in the same transaction, so

* a crash before the commit leaves neither (the redelivery applies it),
* a crash after it leaves both (the redelivery is skipped),
* two workers racing on one message id: the unique key lets one commit, the
  other's insert fails, it rolls back and reports "already applied".

    consumer = IdempotentConsumer("sqlite:////var/licensing.sqlite3", "licensing")
    def handle(delivery):
        consumer.apply_once(delivery.message.message_id, lambda conn: apply(conn, delivery))

The marks' table, ``processed_messages``, belongs to the schema history of the
database it lives in: the message log's (revision 0007; the outbound workers
mark there what they notified) and licensing's (its revision 0004). A
consumer refuses a database that lacks it rather than create it on the side:
a table made outside the migrations is one no later revision knows about.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.errors import MessageLogError
from hub.messagelog.db import make_engine, translated, write_transaction
from hub.messagelog.schema import timestamp

metadata = sa.MetaData()
processed_messages = sa.Table(
    "processed_messages", metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("processed_at", sa.String(32), nullable=False, index=True),
)
_MARK = sa.insert(processed_messages)
_SEEN = sa.select(processed_messages.c.message_id).where(
    processed_messages.c.consumer == sa.bindparam("consumer"),
    processed_messages.c.message_id == sa.bindparam("message_id"))
_FORGET = sa.delete(processed_messages).where(
    processed_messages.c.consumer == sa.bindparam("consumer"),
    processed_messages.c.processed_at < sa.bindparam("before"))


class _AlreadyApplied(Exception):
    """Internal: the mark already exists, so the transaction must roll back."""


class IdempotentConsumer:
    """Applies each message id at most once for ``consumer_name``, in the caller's database."""

    def __init__(self, engine_or_url: Engine | str, consumer_name: str) -> None:
        if not isinstance(consumer_name, str) or not consumer_name.strip():
            raise MessageLogError(f"consumer name must be a non-empty string, got {consumer_name!r}")
        self.engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
        self.consumer = consumer_name
        _require_marks_table(self.engine)

    def apply_once(self, message_id: str, fn: Callable[[Connection], Any]) -> bool:
        """Run ``fn(connection)`` and mark ``message_id`` in one transaction.

        Returns False, having run nothing, when the message was applied before
        (or another worker is applying it right now and commits first). An
        exception from ``fn`` rolls back both, so the message stays unapplied.
        """
        if not isinstance(message_id, str) or not message_id:
            raise MessageLogError(f"message id must be a non-empty string, got {message_id!r}")
        row = {"consumer": self.consumer, "message_id": message_id, "processed_at": timestamp()}
        try:
            with write_transaction(self.engine) as conn:
                try:
                    # Mark first: a concurrent worker then waits on the key and loses cleanly.
                    conn.execute(_MARK, row)
                except sa.exc.IntegrityError as exc:
                    raise _AlreadyApplied from exc
                fn(conn)
        except _AlreadyApplied:
            return False
        except sa.exc.OperationalError as exc:
            raise MessageLogError(f"consumer {self.consumer} could not record message: {exc.orig or exc}",
                                  message_id=message_id) from exc
        return True

    def is_applied(self, message_id: str) -> bool:
        """Whether ``message_id`` was applied by this consumer."""
        with translated("read processed messages"), self.engine.connect() as conn:
            return conn.execute(_SEEN, {"consumer": self.consumer, "message_id": message_id}).first() is not None

    def forget_older_than(self, age: timedelta) -> int:
        """Drop marks older than ``age`` (longer than any redelivery can lag); how many."""
        before = timestamp(datetime.now(timezone.utc) - age)
        with translated("prune processed messages"), write_transaction(self.engine) as conn:
            return conn.execute(_FORGET, {"consumer": self.consumer, "before": before}).rowcount


def _require_marks_table(engine: Engine) -> None:
    """MessageLogError unless the database has ``processed_messages`` (its migrations create it)."""
    with translated("look for the processed messages' table"), engine.connect() as conn:
        if sa.inspect(conn).has_table(processed_messages.name):
            return
    where = engine.url.render_as_string(hide_password=True)
    raise MessageLogError(f"the database {where} has no table {processed_messages.name}: its migrations "
                          "create it; run rabt db upgrade (--database licensing for licensing's)")
