"""Scenarios 7 and 8: the courts — case files in, a case looked up, complaints referred out, an outage.

The courts drop yesterday's case updates for licensing; licensing refers a
labour complaint to the court and asks it where a case stands, both through
the hub. When the court is down, the referral is retried, dead-lettered, and
replayed by the operator once it is back: the court receives it once.
"""

from __future__ import annotations

from datetime import date, timedelta

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.probes import licensing_events


def court_cases(ctx: DemoContext) -> str:
    from simulators.courts.batches import case_events_on, write_batches

    inbox = ctx.home / "drop" / "courts" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    day = date.today() - timedelta(days=1)
    summary = write_batches(ctx.population, day, inbox)
    wait_for("licensing to apply the court updates",
             lambda: len(licensing_events(ctx, "LabourCaseUpdate")) >= summary.updates, timeout=60)
    complaint = _refer_complaint(ctx, "CMP-DEMO-0007")
    wait_for("the court to receive the referral", lambda: complaint in _referral_ids(ctx))
    case_number = next(case.number for case, _ in case_events_on(ctx.population, day))
    looked_up = ctx.http.get(f"{ctx.urls['licensing']}/api/cases/{case_number}", timeout=30)
    expect(looked_up.status_code == 200, f"licensing could not look up case {case_number}: {looked_up.text[:200]}")
    status = looked_up.json()
    expect(status["case_number"] == case_number, f"asked about {case_number}, got {status['case_number']}")
    return (f"{summary.updates} case updates in {summary.files} batches applied; complaint {complaint} referred; "
            f"case {case_number} looked up: {status['status']} since {status['status_date']}")


def _refer_complaint(ctx: DemoContext, complaint_id: str) -> str:
    worker = ctx.population.worker(11)
    employer = ctx.population.employer_by_cr(worker.employer_cr)
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/referrals", timeout=30, json={
        "complaint_id": complaint_id, "employer_cr": employer.cr_number, "employer_name_en": employer.name.en,
        "worker_civil_number": worker.civil_number, "worker_name_en": worker.name.en,
        "worker_name_ar": worker.name.ar, "worker_nationality": worker.nationality, "amount_claimed": "845.500"})
    expect(reply.status_code == 202, f"licensing refused the referral: {reply.text[:200]}")
    return complaint_id


def _referral_ids(ctx: DemoContext) -> list[str]:
    received = ctx.http.get(f"{ctx.urls['courts']}/referrals", timeout=10).json()["referrals"]
    return [r.get("complaint_no") for r in received]


def agency_down(ctx: DemoContext) -> str:
    courts = ctx.urls["courts"]
    ctx.http.post(f"{courts}/_admin/faults", json={"mode": "down", "how": "503"}, timeout=5).raise_for_status()
    complaint = _refer_complaint(ctx, "CMP-DEMO-0008")
    letter = wait_for("the referral to be dead-lettered after its retries",
                      lambda: next((d for d in ctx.dead_letters("courts")), None), timeout=60)
    ctx.http.delete(f"{courts}/_admin/faults", timeout=5).raise_for_status()
    ctx.replay(letter.id)
    wait_for("the replayed referral to reach the court", lambda: complaint in _referral_ids(ctx))
    expect(_referral_ids(ctx).count(complaint) == 1, "the court received the referral more than once")
    reason = letter.reason.partition(";")[0]  # its first clause says why; the rest is when to try again
    return f"courts down → {letter.attempts} attempts → dead letter ({reason}) → replayed → received once"
