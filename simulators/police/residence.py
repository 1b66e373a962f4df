"""The police's residence register, as the transfer-of-services service reads it.

For every worker of the deterministic population the register knows the
residence expiry (the population's), whether the worker is in Oman, outside
on a temporary exit or gone on a final exit, and any open absconding report.
Presence and reports are drawn from ``(seed, "residence", index)`` like every
other fact of the population, so each process (simulator, demo, tests) sees
the same register without storing it:

* 4% of workers left on a final exit, 5% are outside on a temporary exit;
* 3% have an open absconding report (filed by their employer).

A completed transfer (``NotifyTransferCompleted``) moves the worker to the
new sponsor in :class:`TransferRegister`, kept in memory for the app's life;
a notification resent with the same ``TransferRef`` changes nothing twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone

from simulators.population import Draw, Population, Worker

IN_COUNTRY, OUTSIDE, DEPARTED = "I", "T", "F"
"""The police's presence codes (``transfer.xsd``)."""


def ddmmyyyy(day: date) -> str:
    """The police write dates dd/mm/yyyy (resident cards, civil registry)."""
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class ResidenceFacts:
    """What the register holds about one worker today."""

    worker: Worker
    sponsor_type: str
    """``C`` establishment (CR number) or ``P`` private (a citizen's civil number)."""
    sponsor_id: str
    residence_expiry: date
    presence: str
    last_exit: date | None = None
    absconding_report: tuple[str, date] | None = None
    """(report number, day filed) of an open report."""

    def may_transfer(self, today: date) -> bool:
        """No reason the police know of to stop a transfer (the ministry decides)."""
        return (self.presence == IN_COUNTRY and self.absconding_report is None
                and self.residence_expiry >= today)


def residence_facts(population: Population, worker: Worker) -> ResidenceFacts:
    """The register's facts on ``worker``, the same on every call and in every process."""
    draw, as_of = Draw(population.spec.seed, "residence", worker.index), population.as_of
    roll = draw.int(1000)
    presence = DEPARTED if roll < 40 else OUTSIDE if roll < 90 else IN_COUNTRY
    last_exit = None if presence == IN_COUNTRY else as_of - timedelta(days=1 + draw.int(120))
    report = None
    if draw.chance(30):
        report = (f"ABS/{as_of.year}/{worker.index:07d}", as_of - timedelta(days=1 + draw.int(200)))
    return ResidenceFacts(worker, "C", worker.employer_cr, worker.residence_expiry, presence, last_exit, report)


def find_worker(population: Population, *, presence: str = IN_COUNTRY, absconding: bool = False,
                residence_valid: bool = True, start: int = 0, **attributes) -> Worker:
    """The first worker from index ``start`` whose register facts match (demos and tests pick people so).

    ``attributes`` are compared with the worker's own (``profession_code="7112"``).
    """
    for index in range(start, population.spec.workers):
        worker = population.worker(index)
        if any(getattr(worker, key) != value for key, value in attributes.items()):
            continue
        facts = residence_facts(population, worker)
        if (facts.presence == presence and (facts.absconding_report is not None) == absconding
                and (facts.residence_expiry >= population.as_of) == residence_valid):
            return worker
    raise LookupError(f"no worker from {start} on with presence {presence}, absconding={absconding}, "
                      f"residence_valid={residence_valid}, {attributes}")


@dataclass
class TransferRegister:
    """Transfers the ministry notified, applied to the register once per ``TransferRef``."""

    sponsors: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Civil number → (sponsor type, sponsor id) after the latest transfer."""
    received: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self, facts: ResidenceFacts) -> ResidenceFacts:
        """``facts`` with the sponsor a notified transfer moved the worker to."""
        with self.lock:
            moved = self.sponsors.get(facts.worker.civil_number)
        if moved is None:
            return facts
        return replace(facts, sponsor_type=moved[0], sponsor_id=moved[1])

    def record(self, notice: dict) -> str:
        """Apply one notification; the registration time (the first one's, for a resend)."""
        with self.lock:
            earlier = next((r for r in self.received if r["transfer_ref"] == notice["transfer_ref"]), None)
            if earlier is not None:
                return earlier["registered_at"]
            registered_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
            self.sponsors[notice["civil_no"]] = (notice["new_sponsor_type"], notice["new_sponsor_id"])
            self.received.append(notice | {"registered_at": registered_at})
            return registered_at
