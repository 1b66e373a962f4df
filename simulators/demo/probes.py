"""What several scenarios do or read alike: apply for a licence, pick the cast, announce an arrival.

An applicant acts on licensing's API, and the scenarios read there what
licensing applied; the police and the municipality reach the hub's SOAP
gateway with clients signing as they would.
"""

from __future__ import annotations

from datetime import date, timedelta

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for


def apply_for_licence(ctx: DemoContext, **application) -> dict:
    """Licensing's decision on ``application``, filed on its API as an applicant would."""
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/applications", json=application, timeout=60)
    expect(reply.status_code == 201, f"licensing answered {reply.status_code}: {reply.text[:200]}")
    return reply.json()


def decision_of(application: dict) -> str:
    return (application.get("decision") or {}).get("decision", "none")


def reasons_of(application: dict) -> str:
    return ", ".join(r.get("code", "?") for r in (application.get("decision") or {}).get("reasons", []))


def licensing_events(ctx: DemoContext, message_type: str) -> list[dict]:
    """The events of ``message_type`` licensing applied, as its API lists them."""
    reply = ctx.http.get(f"{ctx.urls['licensing']}/api/events", params={"type": message_type, "limit": 500},
                         timeout=10)
    return reply.json()["events"]


def soap_text(element, tag: str) -> str:
    """The text of ``element``'s child ``tag`` in whatever namespace, '' if it has none."""
    return (element.findtext(f"{{*}}{tag}") or "").strip()


def visa_worker(ctx: DemoContext):
    """The worker the visa scenario brings in; the commercial licence asks for their profession."""
    return ctx.population.find_worker(nationality="IND")


def new_employer(ctx: DemoContext, *workers) -> str:
    """An establishment in good standing that employs none of ``workers`` and is in none of the court
    docket's cases the demo hands licensing (:func:`simulators.demo.courts.court_cases`): an open case
    refers its applications."""
    from simulators.courts.batches import case_events_on

    taken = {w.employer_cr for w in workers}
    for day in (date.today() - timedelta(days=1), date.today()):  # the docket's day, whichever side of midnight
        taken.update(case.employer.cr_number for case, _ in case_events_on(ctx.population, day))
    return next(e.cr_number for e in ctx.population.employers()
                if e.cr_status == "active" and e.chamber_status == "valid" and e.cr_number not in taken)


def arrived_worker(ctx: DemoContext, number: int):
    """Population worker ``number``, announced by the police at the border and applied by licensing."""
    worker = ctx.population.worker(number)
    receipt = ctx.police.send(ctx.police.messages.arrival(worker, visa_no=f"EV-{worker.civil_number}"))
    arrival_id = soap_text(receipt, "HubMessageId")
    wait_for("licensing to apply the arrival",
             lambda: any(e["message_id"] == arrival_id for e in licensing_events(ctx, "WorkerArrival")))
    return worker


def municipality_client(ctx: DemoContext):
    """The municipality's SOAP client at the gateway, signing with its key."""
    from simulators.municipality.client import MunicipalityClient, municipality_signer

    return MunicipalityClient(f"{ctx.urls['gateway']}/soap/municipality",
                              municipality_signer(ctx.settings.pki_dir), timeout=30)
