"""The demo's scenarios: the licensing story told through every agency and channel.

Each scenario drives the running system from outside, as its users would —
an applicant on licensing's API, the police posting SOAP to the gateway, the
central bank and the courts dropping files, an operator replaying a dead
letter — and checks the outcome where that user would see it. A scenario
returns a one-line result or raises :class:`ScenarioFailed` saying what went wrong.

:data:`SCENARIOS` lists them in the order they run: a later one may use what an
earlier one left (scenario 4 checks visas against the licence scenario 3 issued).
Each lives with the others of its channel:

    licences       1-3           applicants on licensing's API
    soap_gateway   4, 5, 9, 11   the police and the municipality on the hub's SOAP gateway
    wages          6             the central bank's wage files
    courts         7, 8          the courts' case files, referrals and an outage
    transfers      10            transfer of services
    corrections    12            worker data corrections, told to every subscriber
    statistics     13            open-data statistics
    evidence_*     14-17         the evidence an auditor checks
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulators.demo.context import DemoContext
from simulators.demo.corrections import worker_corrections
from simulators.demo.courts import agency_down, court_cases
from simulators.demo.evidence_archive import evidence_archive
from simulators.demo.evidence_ledger import disclosure_report
from simulators.demo.evidence_projection import projection_on_a_route
from simulators.demo.evidence_stamps import anchors_timestamped
from simulators.demo.expectations import ScenarioFailed, expect, wait_for
from simulators.demo.licences import commercial, private_approved, private_refused
from simulators.demo.soap_gateway import border_events, tampered, visa_checks, worker_record_for_municipality
from simulators.demo.statistics import open_statistics
from simulators.demo.transfers import transfers
from simulators.demo.wages import wage_files

#: the registry, and the pass/fail vocabulary of :mod:`simulators.demo.expectations` as importable from here
__all__ = ["SCENARIOS", "Scenario", "ScenarioFailed", "expect", "wait_for"]


@dataclass(frozen=True)
class Scenario:
    """One step of the story: its number and title as the demo prints them, and what runs it."""

    number: int
    title: str
    run: Callable[[DemoContext], str]


SCENARIOS = (
    Scenario(1, "private licence approved automatically", private_approved),
    Scenario(2, "private licence refused (low income, not insured)", private_refused),
    Scenario(3, "commercial licence: valid CR approved, expired CR refused", commercial),
    Scenario(4, "police visa checks and an issued visa", visa_checks),
    Scenario(5, "border arrival, departure, renewal", border_events),
    Scenario(6, "a month of wage files, late payers flagged", wage_files),
    Scenario(7, "court case updates in, a case looked up, complaint referred out", court_cases),
    Scenario(8, "agency down → retries → dead letter → replay", agency_down),
    Scenario(9, "tampered message refused", tampered),
    Scenario(10, "transfer of services: allowed, police told; refusals", transfers),
    Scenario(11, "a worker's record for the municipality, only the fields it may have", worker_record_for_municipality),
    Scenario(12, "worker data corrected, every subscriber told", worker_corrections),
    Scenario(13, "open-data statistics, signed, small counts withheld", open_statistics),
    Scenario(14, "log anchors timestamped and verified", anchors_timestamped),
    Scenario(15, "an archive verified offline after its payloads were purged", evidence_archive),
    Scenario(16, "a worker's disclosure report", disclosure_report),
    Scenario(17, "a projection applied on a route", projection_on_a_route),
)
