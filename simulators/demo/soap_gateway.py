"""Scenarios 4, 5, 9 and 11: agencies on the hub's SOAP gateway, asking and telling.

The police ask licensing whether a visa may be issued and tell it of visas,
arrivals, departures and renewals; a message forged after signing is refused
at the gateway; the municipality asks for a worker's record and receives only
the fields its projection allows.
"""

from __future__ import annotations

import requests
from lxml import etree

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.probes import arrived_worker, licensing_events, municipality_client, soap_text, visa_worker


def visa_checks(ctx: DemoContext) -> str:
    licence = ctx.recall("commercial_licence")
    worker = visa_worker(ctx)
    profession, other = worker.profession_code, "2211" if worker.profession_code != "2211" else "2212"
    yes = ctx.police.check_visa_eligibility(licence, worker.nationality, profession)
    expect(soap_text(yes, "EligibleFlag") == "Y", f"visa check for {licence} said {soap_text(yes, 'ReasonCode')}")
    no = ctx.police.check_visa_eligibility(licence, worker.nationality, other)
    expect(soap_text(no, "EligibleFlag") == "N", "a profession the licence lacks was accepted")
    free_before = _free(ctx, licence)
    ctx.police.report_visa_issued(worker, licence_no=licence, visa_no=f"EV{worker.civil_number}")
    wait_for("the issued visa to use a vacancy", lambda: _free(ctx, licence) == free_before - 1)
    return (f"yes for {profession}, no for {other} ({soap_text(no, 'ReasonCode')}); "
            f"vacancies {free_before} → {free_before - 1}")


def _free(ctx: DemoContext, licence: str) -> int:
    reply = ctx.http.get(f"{ctx.urls['licensing']}/api/licences/{licence}", timeout=10).json()
    return sum(v["free"] for v in reply.get("vacancies", []))


def border_events(ctx: DemoContext) -> str:
    worker = ctx.population.worker(7)
    arrival = ctx.police.messages.arrival(worker, visa_no=f"EV-{worker.civil_number}")
    receipts = [ctx.police.send(arrival), ctx.police.notify_departure(worker),
                ctx.police.notify_residence_renewal(worker)]
    ids = {soap_text(r, "HubMessageId") for r in receipts}
    expect(len(ids) == 3 and all(ids), f"receipts {ids}")
    for kind in ("WorkerArrival", "WorkerDeparture", "ResidenceRenewal"):
        wait_for(f"licensing to apply {kind}",
                 lambda kind=kind: any(e["message_id"] in ids for e in licensing_events(ctx, kind)))
    wait_for("licensing's delivery receipts on the hub's trail", lambda: all(
        "applied" in [event.status for event in ctx.log.events(message_id)] for message_id in ids))
    again = ctx.police.send(arrival)
    expect(soap_text(again, "Duplicate") == "true", "a resent notification was not recognised as a duplicate")
    return "arrival, departure, renewal applied by licensing (receipts on the trail); a resend answered as duplicate"


def tampered(ctx: DemoContext) -> str:
    worker = ctx.population.worker(19)
    before = ctx.log.stats()
    request = ctx.police.prepare(ctx.police.messages.arrival(worker, visa_no="EV-TAMPERED"))
    forged = request.replace(worker.passport_number.encode(), b"X" + worker.passport_number.encode()[1:], 1)
    reply = requests.post(f"{ctx.urls['gateway']}/soap/police", data=forged, timeout=10,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    expect(reply.status_code == 500 and b"Client.Signature" in reply.content,
           f"the gateway answered {reply.status_code}: {reply.text[:200]}")
    after = ctx.log.stats()
    expect(after.refused == before.refused + 1, "the refusal was not kept in the message log")
    expect(sum(after.by_status.values()) == sum(before.by_status.values()), "a tampered message was accepted")
    return "refused with Client.Signature (digest mismatch); kept as a refusal, nothing published"


def worker_record_for_municipality(ctx: DemoContext) -> str:
    """The ministry as a provider: the municipality asks for a worker's record, and gets only its fields."""
    worker = arrived_worker(ctx, 23)
    municipality = municipality_client(ctx)
    try:
        record = municipality.worker_record(worker, fields=("NameEn", "NameAr", "ProfessionCode", "EmployerCRNo"))
    finally:
        municipality.close()
    received = [etree.QName(child).localname for child in record  # the fields, not the envelope's own parts
                if etree.QName(child).localname not in ("MessageId", "HubMessageId", "Signature")]
    expect(soap_text(record, "NameEn") == worker.name.en, f"the record names {soap_text(record, 'NameEn')!r}")
    expect(soap_text(record, "ResidentCardNo") == "", "a field the municipality did not ask for was sent")
    expect(record.find("{*}EmployerCRNo") is None,
           f"the municipality asked for the employer and received it: {soap_text(record, 'EmployerCRNo')}")
    projection = _projection_logged(ctx)
    return f"{worker.name.en}: received {', '.join(received)}; employer asked for, withheld ({projection})"


def _projection_logged(ctx: DemoContext) -> str:
    """The log's note on the hub's latest answer to the municipality: which projection went out."""
    answers = ctx.log.find(message_type="WorkerRecordResponse", limit=1)
    expect(bool(answers), "the hub's answer to the municipality is not in the message log")
    notes = [e.detail for e in ctx.log.events(answers[0].message_id) if e.status == "projected"]
    expect(bool(notes), "the log does not say which projection was sent")
    return notes[0].partition(": ")[2].partition(";")[2].strip()
