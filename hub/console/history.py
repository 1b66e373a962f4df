"""Rates and depths over the last hour and day, kept by the console itself.

No Prometheus server is needed to see what happened an hour ago: a
:class:`Sampler` thread in the console process takes a point every
``every`` seconds (queue depths, consumers and dead letters from the broker;
messages published, delivered, received and refused in the interval from the
message log) and a :class:`HistoryStore` keeps them for a day.

The store is its own small SQLite file under the hub's home
(``console-history.sqlite3``), not a table of the message log: the points are
throw-away figures, they must not grow or lock the audited database (which
may be PostgreSQL, migrated separately), and losing the file loses only charts.

Points sit on multiples of ``every`` (unix seconds) and are written with
``INSERT OR REPLACE``: two console processes on one home compute the same
counts for the same interval and overwrite each other instead of doubling.

Delivered messages are derived, not counted: the consumers run in other
processes and write nothing the console can read, so a queue's deliveries in
an interval are what was published into it minus what its depth grew by.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from hub.console.figures import CountRow, chain_counts
from hub.errors import RabtError

log = logging.getLogger(__name__)

HISTORY_FILE_NAME = "console-history.sqlite3"
#: span name → (seconds shown, seconds per point drawn)
SPANS = {"hour": (3600, 60), "day": (86400, 900)}
#: figures that are a level at a moment (the rest are counts per interval, drawn as rates per second)
LEVELS = frozenset({"ready", "unacked", "consumers", "dead_letters", "depth"})
KEEP_SECONDS = 86400 + 900

_metadata = sa.MetaData()
points = sa.Table(
    "points", _metadata,
    sa.Column("at", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),     # "queue" or "agency"
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(32), primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
)


class HistoryStore:
    """Points ``(at, kind, name, metric, value)`` in a SQLite file, a day deep."""

    def __init__(self, path: Path | None) -> None:
        if path is None:  # in memory: one connection shared by every thread, gone with the console
            self.engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                                           connect_args={"check_same_thread": False})
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 10})
        _metadata.create_all(self.engine)

    def write(self, at: int, rows: Iterable[tuple[str, str, str, float]]) -> None:
        """Store one sample's rows at ``at`` (replacing any already there) and forget old points."""
        values = [{"at": at, "kind": k, "name": n, "metric": m, "value": float(v)} for k, n, m, v in rows]
        with self.engine.begin() as conn:
            if values:
                conn.execute(points.insert().prefix_with("OR REPLACE"), values)
            conn.execute(points.delete().where(points.c.at < at - KEEP_SECONDS))

    def value_at(self, at: int, kind: str, name: str, metric: str) -> float | None:
        """The point stored at exactly ``at``, or None."""
        query = sa.select(points.c.value).where(points.c.at == at, points.c.kind == kind,
                                                points.c.name == name, points.c.metric == metric)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def series(self, kind: str, span: str = "hour", now: float | None = None) -> dict:
        """``{name: {metric: [[t, value], …]}}`` over ``span``, one point per step of :data:`SPANS`.

        A level is the step's last value; a count becomes a rate per second
        over the step (``value`` sums the step's counts, divided by its length).
        """
        seconds, step = SPANS[span]
        now = time.time() if now is None else now
        start = int(now - seconds) // step * step
        query = (sa.select(points.c.at, points.c.name, points.c.metric, points.c.value)
                 .where(points.c.kind == kind, points.c.at > start).order_by(points.c.at))
        buckets: dict[tuple[str, str, int], float] = {}
        with self.engine.connect() as conn:
            for at, name, metric, value in conn.execute(query):
                key = (name, metric, (at - 1) // step * step + step)
                buckets[key] = value if metric in LEVELS else buckets.get(key, 0.0) + value
        result: dict[str, dict[str, list]] = {}
        for (name, metric, at), value in sorted(buckets.items(), key=lambda item: item[0][2]):
            shown = value if metric in LEVELS else round(value / step, 6)
            result.setdefault(name, {}).setdefault(metric, []).append([at, shown])
        return result

    def rates(self, kind: str, metric: str, seconds: float = 60.0, now: float | None = None) -> dict[str, float]:
        """name → the count ``metric`` per second over the last ``seconds`` (names with points only)."""
        now = time.time() if now is None else now
        query = (sa.select(points.c.name, sa.func.sum(points.c.value))
                 .where(points.c.kind == kind, points.c.metric == metric, points.c.at > now - seconds)
                 .group_by(points.c.name))
        with self.engine.connect() as conn:
            return {name: round(total / seconds, 4) for name, total in conn.execute(query)}

    def close(self) -> None:
        self.engine.dispose()


class Sampler:
    """Takes a point of every queue and agency each ``every`` seconds (see the module docstring)."""

    def __init__(self, console, store: HistoryStore, every: float = 10.0) -> None:
        self.console, self.store, self.every = console, store, max(0.2, float(every))

    def sample(self, now: float | None = None) -> int:
        """Store the point of the interval ending at the last multiple of ``every``; the rows written."""
        step = self.every
        at = int((time.time() if now is None else now) // step * step)
        end = datetime.fromtimestamp(at, timezone.utc)
        start = datetime.fromtimestamp(at - step, timezone.utc)
        counts = chain_counts(self.console.log.engine, start, end)
        rows = self._queue_rows(at, counts) + _agency_rows(counts)
        self.store.write(at, rows)
        return len(rows)

    def _queue_rows(self, at: int, counts: list[CountRow]) -> list[tuple[str, str, str, float]]:
        # the overview's rows, not the broker's figures: they count every dead letter wherever it is kept
        queues = self.console.overview()["queues"]
        destinations = {q.name: q.binding.removesuffix(".#") for q in self.console.parts.routes.queues}
        rows = []
        for q in queues:
            name, depth = q["name"], q["ready"] + (q["unacked"] or 0)
            published = sum(c.count for c in counts if c.status == "published"
                            and c.destination == destinations.get(name))
            before = self.store.value_at(int(at - self.every), "queue", name, "depth")
            rows += [("queue", name, "ready", q["ready"]), ("queue", name, "unacked", q["unacked"] or 0),
                     ("queue", name, "consumers", q["consumers"]), ("queue", name, "dead_letters", q["dead_letters"]),
                     ("queue", name, "depth", depth), ("queue", name, "published", published)]
            if before is not None:
                rows.append(("queue", name, "delivered", max(0.0, published + before - depth)))
        return rows

    def start(self) -> threading.Thread:
        """Sample in a daemon thread until the console is gone (held weakly, so a dropped app stops it)."""
        console_ref, store, every = weakref.ref(self.console), self.store, self.every
        del self.console  # the thread must not keep the console alive

        def run() -> None:
            while True:
                time.sleep(every - time.time() % every + 0.05)
                console = console_ref()
                if console is None:
                    store.close()
                    return
                _sample_once(Sampler(console, store, every))
                del console

        thread = threading.Thread(target=run, name="console-history", daemon=True)
        thread.start()
        return thread


def _sample_once(sampler: Sampler) -> None:
    try:
        sampler.sample()
    except (RabtError, sa.exc.SQLAlchemyError) as exc:
        # the broker or the log being away shows on the overview and /readyz; the chart gets a gap
        log.debug("history sample skipped: %s", exc)
    except Exception:  # noqa: BLE001 - a bug here must cost a chart point, never the sampler thread
        log.warning("history sample failed", exc_info=True)


def _agency_rows(counts: list[CountRow]) -> list[tuple[str, str, str, float]]:
    totals: dict[tuple[str, str], int] = {}
    for c in counts:
        metric = ("received" if c.kind == "accepted" else "refused" if c.kind == "refused"
                  else "dead_lettered" if c.status == "dead-lettered" else None)
        if metric and c.agency:
            totals[(c.agency, metric)] = totals.get((c.agency, metric), 0) + c.count
    return [("agency", agency, metric, count) for (agency, metric), count in sorted(totals.items())]
