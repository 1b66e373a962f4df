"""Statistics without personal data: licensing's aggregates, small counts suppressed.

Three tables, counted from licensing's own database (never a name, number or
date of one person leaves this module):

* ``licences_by_governorate`` — licences held, by licence type and governorate
  (the holder's for a private licence, the establishment's for a commercial
  one; :data:`GovernorateOf` says where it comes from), with each type's total;
* ``border_movements_by_month`` — workers' arrivals and departures per month,
  with the total of each column;
* ``wage_protection_by_month`` — wage files per pay month: compliant (paid on
  time, no worker missing) and not, with the month's total.

Disclosure control, so no person can be singled out:

* **primary suppression**: a count from 1 to ``threshold - 1`` (default 10)
  is withheld;
* **secondary suppression**: every table is made of groups (cells that add
  up to a published total). A group with exactly one withheld cell would give
  it away by subtraction, so the smallest other cell is withheld too (the
  total itself when there is no other cell). Zeros are published: a zero
  singles nobody out.

A withheld cell is ``None`` with the reason ``primary`` or ``secondary``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from simulators.licensing.tables import licences, salary_batches, worker_events

THRESHOLD = 10
"""Counts below this (and above zero) are withheld."""
TOTAL = "total"
#: governorate_of(licence_type, holder_civil_number, employer_cr) -> ISO 3166-2:OM code or None
GovernorateOf = Callable[[str, "str | None", "str | None"], "str | None"]
UNKNOWN = "unknown"


@dataclass
class Cell:
    """One published count: its value, or None and why it was withheld."""

    count: int
    shown: int | None = None
    suppressed: str | None = None  # "primary" | "secondary"

    def withhold(self, reason: str) -> None:
        self.shown, self.suppressed = None, reason


@dataclass
class Group:
    """Cells whose counts add up to ``total``: what subtraction could undo."""

    cells: list[Cell]
    total: Cell = field(default_factory=lambda: Cell(0))


def suppress(groups: Iterable[Group], threshold: int = THRESHOLD) -> None:
    """Primary then secondary suppression of every group, in place."""
    groups = list(groups)
    for group in groups:
        for cell in (*group.cells, group.total):
            cell.shown = cell.count
            if 0 < cell.count < threshold:
                cell.withhold("primary")
    for group in groups:
        _protect(group)


def _protect(group: Group) -> None:
    # A published total minus the published cells must never equal one withheld cell.
    if group.total.suppressed:
        return
    while sum(1 for c in group.cells if c.suppressed) == 1:
        shown = [c for c in group.cells if not c.suppressed]
        partner = min((c for c in shown if c.count), key=lambda c: c.count, default=None)
        if partner is None:
            # only zeros left to hide behind: the total would name the withheld count
            group.total.withhold("secondary")
            return
        partner.withhold("secondary")
    if len(group.cells) == 1 and group.cells[0].suppressed:
        group.total.withhold("secondary")


# ----------------------------------------------------------------- the three tables


def licences_by_governorate(conn: Connection, governorate_of: GovernorateOf,
                            threshold: int = THRESHOLD) -> list[tuple[str, str, Cell]]:
    """(licence type, governorate or ``total``, cell) for every licence type held."""
    counted: Counter[tuple[str, str]] = Counter()
    query = sa.select(licences.c.licence_type, licences.c.holder_civil_number, licences.c.employer_cr)
    for licence_type, holder, employer in conn.execute(query):
        counted[licence_type, governorate_of(licence_type, holder, employer) or UNKNOWN] += 1
    rows = []
    for licence_type in sorted({t for t, _ in counted}):
        cells = {g: Cell(n) for (t, g), n in sorted(counted.items()) if t == licence_type}
        group = Group(list(cells.values()), Cell(sum(c.count for c in cells.values())))
        suppress([group], threshold)
        rows += [(licence_type, g, c) for g, c in cells.items()] + [(licence_type, TOTAL, group.total)]
    return rows


def border_movements_by_month(conn: Connection, threshold: int = THRESHOLD) -> list[tuple[str, Cell, Cell]]:
    """(month ``YYYY-MM`` or ``total``, arrivals, departures)."""
    query = sa.select(worker_events.c.kind, sa.func.substr(worker_events.c.occurred_at, 1, 7), sa.func.count()) \
        .where(worker_events.c.kind.in_(("WorkerArrival", "WorkerDeparture"))).group_by(
            worker_events.c.kind, sa.func.substr(worker_events.c.occurred_at, 1, 7))
    counted = {(kind, month): n for kind, month, n in conn.execute(query)}
    months = sorted({m for _, m in counted})
    arrivals = {m: Cell(counted.get(("WorkerArrival", m), 0)) for m in months}
    departures = {m: Cell(counted.get(("WorkerDeparture", m), 0)) for m in months}
    groups = [Group(list(column.values()), Cell(sum(c.count for c in column.values())))
              for column in (arrivals, departures)]
    suppress(groups, threshold)
    return [(m, arrivals[m], departures[m]) for m in months] + [(TOTAL, groups[0].total, groups[1].total)]


def wage_protection_by_month(conn: Connection, threshold: int = THRESHOLD) -> list[tuple[str, Cell, Cell, Cell]]:
    """(pay month, compliant files, non-compliant files, all files)."""
    late = sa.or_(salary_batches.c.late_payer, salary_batches.c.missing_lines > 0)
    query = sa.select(salary_batches.c.pay_month, sa.func.count(),
                      sa.func.sum(sa.case((late, 1), else_=0))).group_by(salary_batches.c.pay_month)
    rows = []
    for month, files, not_compliant in sorted(conn.execute(query)):
        group = Group([Cell(files - int(not_compliant or 0)), Cell(int(not_compliant or 0))], Cell(files))
        suppress([group], threshold)
        rows.append((month, group.cells[0], group.cells[1], group.total))
    return rows
