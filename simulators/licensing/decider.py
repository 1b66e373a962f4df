"""Deciding an application: ask the agencies through the hub, then apply the rules.

The decider builds canonical queries (IncomeQuery and CivilStatusQuery for a
private licence, CommercialRegistrationQuery and ChamberMembershipQuery for
a commercial one) and hands each to an injected
``ask(query_type, body, destination) -> reply body``; in production that is
:class:`hub_link.TransportAsk`, a request/reply through the hub. Whatever goes
wrong with an answer — timeout, broker trouble, an agency fault, a reply that
is not the record asked for — becomes a :class:`rules.NoAnswer`, which refers
the application to an officer rather than failing it.

Queries are asked one after the other: a transport instance serves one
thread at a time, and two look-ups per application are cheap next to the
reply timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lxml import etree

from hub.errors import InputError, RabtError, SchemaError
from simulators.licensing import canonical_io, rules
from simulators.licensing.state import LicensingState

Ask = Callable[[str, etree._Element, str], etree._Element]
Publish = Callable[[etree._Element], None]

#: the record each query is answered with
EXPECTED_REPLY = {
    "IncomeQuery": "IncomeRecord",
    "CivilStatusQuery": "CivilStatusRecord",
    "CommercialRegistrationQuery": "CommercialRegistrationRecord",
    "ChamberMembershipQuery": "ChamberMembershipRecord",
    "TransferEligibilityQuery": "TransferEligibilityRecord",
}


@dataclass(frozen=True)
class Destinations:
    """Which hub destination (routes.toml) answers each query."""

    income: str = "insurance"
    civil_status: str = "police"
    registration: str = "commerce"
    chamber: str = "commerce"
    transfer: str = "police"

    def for_query(self, query_type: str) -> str:
        return {"IncomeQuery": self.income, "CivilStatusQuery": self.civil_status,
                "CommercialRegistrationQuery": self.registration, "ChamberMembershipQuery": self.chamber,
                "TransferEligibilityQuery": self.transfer}[query_type]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Decider:
    """Decides pending (or referred) applications automatically."""

    state: LicensingState
    ask: Ask
    policy: rules.Policy = field(default_factory=rules.Policy)
    destinations: Destinations = field(default_factory=Destinations)
    now: Callable[[], datetime] = _utc_now
    publish: Publish | None = None
    """Called with each LicenceDecision body (e.g. to publish it through the hub)."""

    def decide(self, number: str) -> dict:
        """Decide application ``number``; an approved or refused one keeps its decision."""
        application = self.state.application(number)
        if application is None:
            raise InputError(f"no application {number!r}")
        if application["status"] in (rules.APPROVED, rules.REFUSED):
            return self.state.decision_for(number)
        outcome = self.outcome(application)
        decision = self.state.record_decision(number, outcome, self.now(), self.policy)
        if self.publish is not None:
            self.publish(canonical_io.licence_decision(decision))
        return decision

    def outcome(self, application: dict) -> rules.Outcome:
        """Ask the agencies what the application's licence type needs, then the rules."""
        number = application["number"]
        if application["licence_type"] == rules.PRIVATE:
            civil_number = application["applicant_civil_number"]
            income = self.query("IncomeQuery", civil_number, number)
            civil = self.query("CivilStatusQuery", civil_number, number)
            return rules.decide_private(civil_number, income, civil, self.policy)
        cr_number = application["employer_cr"]
        registration = self.query("CommercialRegistrationQuery", cr_number, number)
        membership = self.query("ChamberMembershipQuery", cr_number, number)
        return rules.decide_commercial(cr_number, registration, membership, rules.local_today(self.now()),
                                       open_cases=self.state.open_cases(cr_number), policy=self.policy)

    def query(self, query_type: str, key: str, application_number: str):
        """One agency answer as a rule record, ``NotFound`` or ``NoAnswer``."""
        body = canonical_io.query(query_type, key, application_number)
        return self.answer(query_type, body, canonical_io.answer)

    def answer(self, query_type: str, body: etree._Element, read: Callable[[etree._Element, str, str], object]):
        """Ask the agency answering ``query_type``; ``read(reply, expected type, agency)`` or ``NoAnswer``."""
        agency = self.destinations.for_query(query_type)
        try:
            reply = self.ask(query_type, body, agency)
            return read(reply, EXPECTED_REPLY[query_type], agency)
        except SchemaError as exc:
            return rules.NoAnswer(agency, "malformed-reply", exc.reason)
        except RabtError as exc:
            return rules.NoAnswer(agency, exc.code, exc.reason)
        except (TimeoutError, ConnectionError) as exc:
            return rules.NoAnswer(agency, "agency-unavailable", str(exc) or type(exc).__name__)
