"""Each worker process's circuit states, where a console in another process can read them.

A circuit breaker lives in the memory of the outbound worker that calls the
agency, and the production units run the workers and the console as separate
processes (often on separate machines). So every worker process writes the
state of its agencies' circuits into ``circuit_reports`` of the message log's
database — the one thing every role shares — when a state changes and at
least every :data:`REPORT_EVERY` seconds; the console reads the reports of
the last :data:`FRESH_FOR` seconds and takes the worst state per agency. A
process that stopped reporting (killed, stopped) drops out on its own; its
rows are deleted a day later by the next report of any process.

A row is ``(process, agency, state, reported_at)``, one per process and agency;
``state`` is ``closed``, ``half-open`` or ``open``. The table is declared on
:data:`hub.messagelog.schema.metadata` (revision 0008 creates it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.messagelog import db
from hub.messagelog.schema import metadata, parse_timestamp, timestamp

#: a worker reports at least this often, changed or not (seconds)
REPORT_EVERY = 20.0
#: the console believes reports this recent (three missed reports and a process is gone)
FRESH_FOR = 3 * REPORT_EVERY
#: worst first: the state an agency shows when its processes disagree
_RANK = {"open": 2, "half-open": 1, "closed": 0}
_KEEP = timedelta(days=1)

circuit_reports = sa.Table(
    "circuit_reports", metadata,
    sa.Column("process", sa.String(255), primary_key=True),
    sa.Column("agency", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reported_at", sa.String(32), nullable=False),
)
_c = circuit_reports.c


class CircuitReports:
    """Writes one process's circuit states and reads every live process's (worst per agency)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def report(self, process: str, states: Mapping[str, str], now: datetime | None = None) -> None:
        """Replace ``process``'s rows with ``states`` (agency → state); forget day-old rows of any process."""
        unknown = sorted(set(states.values()) - _RANK.keys())
        if unknown:  # a breaker state the console cannot rank: a bug to hear of, not a row to drop
            raise ValueError(f"unknown circuit state {', '.join(unknown)} (known: {', '.join(_RANK)})")
        now = now or datetime.now(timezone.utc)
        rows = [{"process": process[:255], "agency": agency[:64], "state": state, "reported_at": timestamp(now)}
                for agency, state in sorted(states.items())]
        with db.translated("report circuit states"), self.engine.begin() as conn:
            conn.execute(circuit_reports.delete().where(_c.process == process[:255]))
            conn.execute(circuit_reports.delete().where(_c.reported_at < timestamp(now - _KEEP)))
            if rows:
                conn.execute(circuit_reports.insert(), rows)

    def worst(self, now: datetime | None = None) -> dict[str, dict]:
        """Agency → ``{state, process, reported_at, processes}``: the worst fresh state and who reported it."""
        now = now or datetime.now(timezone.utc)
        query = (sa.select(_c.process, _c.agency, _c.state, _c.reported_at)
                 .where(_c.reported_at >= timestamp(now - timedelta(seconds=FRESH_FOR)))
                 .order_by(_c.agency, _c.process))
        with db.translated("read circuit states"), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        worst: dict[str, dict] = {}
        for r in rows:
            known = worst.get(r.agency)
            count = 1 + (known["processes"] if known else 0)
            if known is None or _RANK[r.state] > _RANK[known["state"]]:
                known = worst[r.agency] = {"state": r.state, "process": r.process,
                                           "reported_at": parse_timestamp(r.reported_at)}
            known["processes"] = count
        return worst
