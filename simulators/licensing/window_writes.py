"""A commit window's writes gathered from its messages and run once per window, not once per message.

Most of what the consumer applies is border events and visa checks: an
insert into tables no message's change reads (the worker events, the events
list) and, for an arrival, its visa moved from issued to arrived. Run per
message, a window of 32 arrivals sent 96 statements, each paying the
driver's and Python's round of work; gathered here they go as one
``executemany`` (one multi-row INSERT on PostgreSQL) per statement and one
SELECT plus one UPDATE for all the window's visas.

A message's change that can be gathered says so by being a :class:`Gatherable`:
the window calls its ``gather(writes)`` instead of running it, and runs the
writes (:meth:`WindowWrites.run`) at the end of the window and before any
change that is run as it comes (it may read what those writes leave), so
the database sees every message's writes in window order. An outcome that
depends on the database (was the visa moved?) is a :class:`Later`, known
once the writes have run; rows that hold one are filled in before they are
written.

Any failure of the gathered writes cannot be told to one message: the
window applier then rolls the window back and applies each message alone
(:mod:`window_apply`), running each change as it comes, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from hub.messagelog import prepared


class Later:
    """An outcome known once the window's writes have run: ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value


@dataclass(frozen=True)
class GuardedUpdate:
    """``UPDATE table SET assignment WHERE key = ? AND condition``, run for many keys at once and told per key.

    ``assignment`` must make ``condition`` false (``status = 'arrived'`` for
    ``status = 'issued'``): of several messages of one window on the same key,
    only the first changes the row, as when each ran its own statement.
    """

    table: str
    key: str
    assignment: str
    condition: str

    def found(self, conn: Connection, keys: list[str]) -> set[str]:
        """Which of ``keys`` the update would change now, their rows locked where the database locks rows."""
        listed, params = prepared.among(conn, self.key, keys)
        sql = f"SELECT {self.key} FROM {self.table} WHERE {self.condition} AND {listed}{prepared.locking(conn)}"
        return {row[0] for row in prepared.fetch(conn, sql, params)}

    def run(self, conn: Connection, keys: list[str]) -> int:
        """Update the rows of ``keys``; how many changed."""
        listed, params = prepared.among(conn, self.key, keys)
        sql = f"UPDATE {self.table} SET {self.assignment} WHERE {self.condition} AND {listed}"
        return prepared.changed(conn, sql, params)


class WritesMovedError(Exception):
    """A guarded update changed other rows than its SELECT found: the window is applied message by message."""


class WindowWrites:
    """What one window's gathered changes write, in their order, until :meth:`run`."""

    def __init__(self) -> None:
        self._rows: dict[str, list[Sequence]] = {}  # statement: its rows, statements in order of first use
        self._updates: dict[GuardedUpdate, list[tuple[str, Later]]] = {}
        self._filled: list[tuple[list, int]] = []  # rows holding a Later, and where

    def insert(self, sql: str, row: Sequence) -> None:
        """Write ``row`` with ``sql`` (an INSERT of one row, ``?`` marks) when the window's writes run."""
        rows = self._rows.get(sql)
        if rows is None:
            self._rows[sql] = [row]
        else:
            rows.append(row)

    def insert_filled(self, sql: str, row: list, position: int) -> None:
        """:meth:`insert`, ``row[position]`` a :class:`Later` replaced by its value before the row is written."""
        self._filled.append((row, position))
        self.insert(sql, row)

    def update(self, guarded: GuardedUpdate, key: str, changed: Any = True, unchanged: Any = False) -> Later:
        """Run ``guarded`` for ``key`` with the window's writes; later, ``changed`` if it changed the row, else
        ``unchanged``."""
        outcome = Later((changed, unchanged))
        self._updates.setdefault(guarded, []).append((key, outcome))
        return outcome

    def run(self, conn: Connection) -> None:
        """Run what was gathered (updates first, then the inserts, each statement once) and start afresh."""
        for guarded, wanted in self._updates.items():
            _run_update(conn, guarded, wanted)
        for row, position in self._filled:
            row[position] = row[position].value
        for sql, rows in self._rows.items():
            prepared.execute_many(conn, sql, rows)
        self._rows, self._updates, self._filled = {}, {}, []


def _run_update(conn: Connection, guarded: GuardedUpdate, wanted: list[tuple[str, Later]]) -> None:
    keys = list(dict.fromkeys(key for key, _ in wanted))
    found = guarded.found(conn, keys)
    if found and guarded.run(conn, list(found)) != len(found):
        raise WritesMovedError(f"{guarded.table}: the rows of {len(found)} key(s) changed under the window")
    for key, outcome in wanted:  # the first of a key changes its row; the assignment ends the condition for the rest
        changed, unchanged = outcome.value
        outcome.value = changed if key in found else unchanged
        found.discard(key)


class Gatherable:
    """A message's change that runs as it comes (``apply(conn)``) or is gathered (``gather(writes)``)."""

    __slots__ = ("apply", "gather")

    def __init__(self, apply: Callable[[Connection], Any], gather: Callable[[WindowWrites], Any]) -> None:
        self.apply, self.gather = apply, gather

    def __call__(self, conn: Connection) -> Any:
        return self.apply(conn)
