"""Operator commands for the hub's consumers: pause, resume, reset a circuit.

An outbound worker runs in whatever process ``rabt serve`` or ``rabt worker``
started, often not the console's; the one thing every role shares is the
message log's database. So the console writes a command as a row of
``consumer_controls`` and each worker reads the table every few seconds
(:class:`ControlBoard`): no broker message, no process signal, and a worker
started after the command still sees it.

A row is ``(seq, target, command, actor, issued_at, done_at, done_by)``:

- ``pause`` / ``resume`` target a destination (an agency name); the newest of
  the two for a destination is its state, so a paused destination stays paused
  across restarts until someone resumes it.
- ``reset`` targets an agency's circuit breakers. Breakers live in worker
  memory, so every worker process applies each reset newer than the ones it
  has seen; the first to apply it marks the row done (``done_at``, ``done_by``).

The table is declared on :data:`hub.messagelog.schema.metadata` (revision 0005
creates it), so the migration test sees it with the rest of the layout.
"""

from __future__ import annotations

import os
import socket

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.errors import InputError
from hub.messagelog import db
from hub.messagelog.schema import metadata, parse_timestamp, timestamp

#: what an operator may ask the consumers to do
COMMANDS = ("pause", "resume", "reset")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

consumer_controls = sa.Table(
    "consumer_controls", metadata,
    sa.Column("seq", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("command", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("issued_at", sa.String(32), nullable=False),
    sa.Column("done_at", sa.String(32)),
    sa.Column("done_by", sa.String(255)),
    sa.Index("ix_consumer_controls_target", "target", "seq"),
)
_c = consumer_controls.c


def this_process() -> str:
    """``host:pid``, how a worker signs the commands it applied."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ControlBoard:
    """Reads and writes ``consumer_controls`` (the console writes, the workers read and mark done)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def issue(self, command: str, target: str, actor: str) -> int:
        """Write a command; its sequence number."""
        if command not in COMMANDS:
            raise InputError(f"unknown command {command!r} (one of {', '.join(COMMANDS)})")
        if not target or len(target) > 64:
            raise InputError("a command needs a destination name of at most 64 characters")
        row = {"target": target, "command": command, "actor": actor[:200], "issued_at": timestamp()}
        with db.translated(f"record the command {command}"), self.engine.begin() as conn:
            return conn.execute(consumer_controls.insert().values(row)).inserted_primary_key[0]

    def paused(self) -> dict[str, dict]:
        """Destination → ``{seq, actor, since}`` of each destination paused now."""
        newest = (sa.select(_c.target, sa.func.max(_c.seq).label("seq"))
                  .where(_c.command.in_(("pause", "resume"))).group_by(_c.target).subquery())
        query = (sa.select(_c.seq, _c.target, _c.actor, _c.issued_at)
                 .join(newest, newest.c.seq == _c.seq).where(_c.command == "pause").order_by(_c.target))
        with db.translated("read paused destinations"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {r.target: {"seq": r.seq, "actor": r.actor, "since": parse_timestamp(r.issued_at)} for r in rows}

    def newest_seq(self) -> int:
        """The newest command's number (0 with none): a worker starting now owes nothing older."""
        with db.translated("read the newest command"), self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.coalesce(sa.func.max(_c.seq), 0))).scalar_one()

    def resets_after(self, seq: int, targets: set[str]) -> list[tuple[int, str]]:
        """``(seq, agency)`` of the circuit resets for ``targets`` newer than ``seq``, oldest first."""
        query = (sa.select(_c.seq, _c.target).where(_c.seq > seq, _c.command == "reset", _c.target.in_(targets))
                 .order_by(_c.seq))
        with db.translated("read circuit resets"), self.engine.connect() as conn:
            return [(r.seq, r.target) for r in conn.execute(query).all()]

    def mark_done(self, seq: int, by: str) -> None:
        """Record that a worker applied command ``seq`` (the first one to do so is kept)."""
        update = (consumer_controls.update().where(_c.seq == seq, _c.done_at.is_(None))
                  .values(done_at=timestamp(), done_by=by[:255]))
        with db.translated("mark a command done"), self.engine.begin() as conn:
            conn.execute(update)

    def recent(self, limit: int = 50) -> list[dict]:
        """The newest commands, newest first, with when and by whom they were applied."""
        query = consumer_controls.select().order_by(_c.seq.desc()).limit(max(1, int(limit)))
        with db.translated("read commands"), self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]
