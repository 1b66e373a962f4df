"""What writes to one PostgreSQL database cost its server, counted rather than timed.

    figures = ServerFigures(admin_url, database_url)   # before the log is opened: connections are watched
    figures.start()
    ...  # the writes
    counted = figures.stop()
    print(counted.summary(writes))

Counted between :meth:`ServerFigures.start` and :meth:`ServerFigures.stop`:

* statements the hub's connections sent (libpq's trace of each connection:
  ``Bind`` is an extended-protocol execution, ``Query`` a simple one, ``Parse``
  a statement the server parses and plans, ``Sync`` the end of a round trip's
  batch);
* the write-ahead log the database's work wrote (``pg_walinspect``: the WAL
  records touching the database's relations and the commits of their
  transactions, so other databases on a shared server are left out), by kind
  of record and by table (a table's TOAST and indexes counted with it).

Both are steady between runs where CPU time on a shared machine is not. The
WAL is the bytes of the records, full-page images included (those follow the
server's checkpoints, not the writes: ``fpi`` says how much of the figure
they are). Needs a server on which ``admin_url`` may create the extension.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

#: the driver connections opened since a ServerFigures was made (any pool of this process)
_OPENED: weakref.WeakSet = weakref.WeakSet()
_PROTOCOL = ("Bind", "Query", "Parse", "Sync")


def _remember(driver_connection, _record) -> None:
    pgconn = getattr(driver_connection, "pgconn", None)  # psycopg's; any other driver is not traced
    if pgconn is not None:
        _OPENED.add(driver_connection)


@dataclass
class Counted:
    """Statements sent and WAL written between start and stop."""

    messages: Counter = field(default_factory=Counter)
    """Protocol messages the client sent, by name (see :data:`_PROTOCOL`)."""
    wal_bytes: int = 0
    fpi_bytes: int = 0
    records: Counter = field(default_factory=Counter)
    """WAL records by ``resource manager/type`` (Heap/INSERT, Btree/INSERT_LEAF, Transaction/COMMIT…)."""
    by_table: Counter = field(default_factory=Counter)
    """WAL bytes by table (its TOAST and indexes with it)."""

    def summary(self, writes: int) -> str:
        """Lines of figures per write."""
        def per(count: float) -> float:
            return count / writes

        sent = self.messages
        lines = [f"statements        {per(sent['Bind'] + sent['Query']):.2f} per write "
                 f"({per(sent['Parse']):.2f} parsed, {per(sent['Sync']):.2f} syncs), "
                 f"{per(self.records['Transaction/COMMIT']):.2f} commits",
                 f"WAL               {per(self.wal_bytes):,.0f} bytes per write "
                 f"(full-page images {per(self.fpi_bytes):,.0f})",
                 "WAL by table      " + ", ".join(f"{name} {per(size):,.0f}"
                                                  for name, size in self.by_table.most_common()),
                 "WAL records       " + ", ".join(f"{kind} {per(count):.2f}"
                                                  for kind, count in sorted(self.records.items()))]
        return "\n".join(lines)


class ServerFigures:
    """Counts the statements and WAL of the writes to ``database_url`` (see the module's text)."""

    def __init__(self, admin_url: str, database_url: str) -> None:
        sa.event.listen(sa.pool.Pool, "connect", _remember)
        self._url = database_url
        self._traces: list[tuple[object, Path]] = []
        self._start_lsn: str | None = None
        self._work = tempfile.TemporaryDirectory(prefix="rabt-pg-figures-")
        with self._connect() as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")

    def _connect(self):
        import psycopg

        # the figures' own connection, opened before any pool listens on this one's driver
        return psycopg.connect(self._url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def start(self) -> None:
        """Trace every open connection and note where the WAL is."""
        from psycopg import pq

        for number, driver in enumerate(list(_OPENED)):
            path = Path(self._work.name) / f"trace-{number}"
            driver.pgconn.trace(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))  # closed by untrace
            driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            self._traces.append((driver, path))
        with self._connect() as conn:
            self._start_lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]

    def stop(self) -> Counted:
        """What was sent and written since :meth:`start` (connections opened meanwhile are not traced)."""
        counted = Counted()
        for driver, path in self._traces:
            if not driver.closed:
                driver.pgconn.untrace()
            counted.messages.update(_sent(path))
        self._traces.clear()
        with self._connect() as conn:
            _count_wal(conn, self._start_lsn, counted)
        return counted

    def close(self) -> None:
        sa.event.remove(sa.pool.Pool, "connect", _remember)
        self._work.cleanup()


def _sent(path: Path) -> Counter:
    """The protocol messages the client sent, from a libpq trace (``F  <length>  <name>  …`` lines)."""
    sent = Counter()
    with path.open(errors="replace") as trace:
        for line in trace:
            parts = line.rstrip("\n").split("\t", 3)
            if len(parts) > 2 and parts[0] == "F" and parts[2] in _PROTOCOL:
                sent[parts[2]] += 1
    return sent


# The records touching the database's relations, and the commit and abort records of their transactions.
_WAL = """
WITH records AS (
    SELECT * FROM pg_get_wal_records_info(%(start)s::pg_lsn, pg_current_wal_lsn())
), ours AS (
    SELECT * FROM records WHERE block_ref LIKE %(rel)s
)
SELECT resource_manager || '/' || record_type, record_length, fpi_length,
       (regexp_match(block_ref, %(node)s))[1]::oid
FROM ours
UNION ALL
SELECT resource_manager || '/' || record_type, record_length, fpi_length, NULL
FROM records WHERE resource_manager = 'Transaction' AND xid IN (SELECT xid FROM ours WHERE xid <> 0)
"""
# Each relation's file as ``table kind``: a TOAST table or an index (a TOAST table's index too) named by its table.
_RELATIONS = """
SELECT c.relfilenode, coalesce(owner.relname, base.relname),
       CASE WHEN c.relkind = 'i' AND owner.oid IS NULL THEN 'index'
            WHEN owner.oid IS NOT NULL THEN 'toast' ELSE 'heap' END
FROM pg_class c
LEFT JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_class base ON base.oid = coalesce(i.indrelid, c.oid)
LEFT JOIN pg_class owner ON owner.reltoastrelid = base.oid
WHERE c.relfilenode <> 0
"""


def _count_wal(conn, start_lsn: str, counted: Counted) -> None:
    oid = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
    names = {node: f"{table} {kind}" for node, table, kind in conn.execute(_RELATIONS)}
    found = conn.execute(_WAL, {"start": start_lsn, "rel": f"%rel %/{oid}/%", "node": rf"rel \d+/{oid}/(\d+)"})
    for kind, length, fpi, node in found:
        counted.records[kind] += 1
        counted.wal_bytes += length
        counted.fpi_bytes += fpi
        counted.by_table["commits" if node is None else names.get(node, f"relation {node}")] += length


class Usage(NamedTuple):
    """What the server's processes used for the measured writes, and how often this process was switched out."""

    seconds: float
    """CPU seconds of the server processes."""
    wakeups: int
    """Times the server processes waited (voluntary switches): once per round trip they answer, whatever the load."""
    switches: int = 0
    """Times the writing process waited meanwhile (voluntary switches)."""


class ServerCpu:
    """CPU time of the server processes serving one database, from now on (``/proc``: a server on this machine)."""

    def __init__(self, admin_url: str, database_url: str) -> None:
        self._admin, self._name = admin_url, database_url.rsplit("/", 1)[1]
        self._start = self._now()

    def _now(self) -> dict[int, tuple[int, int]]:
        import psycopg

        with psycopg.connect(self._admin, autocommit=True) as admin:  # another database: not counted
            pids = [pid for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                    (self._name,))]
        used = {}
        for pid in pids:
            try:  # schedstat's first field: nanoseconds on a CPU; a voluntary switch: waiting for the next request
                cpu = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
                status = Path(f"/proc/{pid}/status").read_text()
                used[pid] = (cpu, int(status.split("voluntary_ctxt_switches:")[1].split()[0]))
            except (OSError, ValueError, IndexError):
                continue
        return used

    def used(self) -> Usage | None:
        """What the database's server processes used since this was made (None: none could be read)."""
        now = self._now()
        if not now:
            return None
        start = {pid: self._start.get(pid, (0, 0)) for pid in now}
        return Usage(sum(used[0] - start[pid][0] for pid, used in now.items()) / 1e9,
                     sum(used[1] - start[pid][1] for pid, used in now.items()))
