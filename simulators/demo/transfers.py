"""Scenario 10: transfer of services on licensing's API — one allowed and the police told, the rest refused.

The new employer's licence is approved first, with one vacancy of the mover's
profession; a rival for the same vacancy, a worker abroad, one with an
expired residence, one reported absconding and an unknown licence are refused.
"""

from __future__ import annotations

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.probes import apply_for_licence, decision_of, new_employer, reasons_of


def _transfer(ctx: DemoContext, worker, licence: str) -> dict:
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/transfers", timeout=60, json={
        "worker_civil_number": worker.civil_number, "licence_number": licence,
        "profession_code": worker.profession_code})
    expect(reply.status_code == 201, f"licensing answered {reply.status_code}: {reply.text[:200]}")
    return reply.json()


def _refused_for(ctx: DemoContext, worker, licence: str, code: str) -> str:
    transfer = _transfer(ctx, worker, licence)
    codes = [r["code"] for r in transfer["reasons"]]
    expect(transfer["status"] == "refused" and code in codes,
           f"{worker.civil_number} → {licence}: {transfer['status']} ({', '.join(codes)}), expected {code}")
    return code


def transfers(ctx: DemoContext) -> str:
    from simulators.police.residence import find_worker

    people = ctx.population
    mover = find_worker(people)
    rival = find_worker(people, profession_code=mover.profession_code, start=mover.index + 1)
    employer = new_employer(ctx, mover, rival)
    licensed = apply_for_licence(ctx, licence_type="commercial", employer_cr=employer,
                                 vacancies=[{"profession_code": mover.profession_code, "count": 1}])
    expect(decision_of(licensed) == "approved", f"{employer}: {decision_of(licensed)} ({reasons_of(licensed)})")
    licence = licensed["decision"]["licence_number"]
    moved = _transfer(ctx, mover, licence)
    expect(moved["status"] == "completed", f"{mover.civil_number}: {moved['status']} ({moved['reasons']})")
    wait_for("the police to register the transfer", lambda: moved["transfer_id"] in _police_transfers(ctx))
    refusals = [_refused_for(ctx, rival, licence, "no-vacancy"),
                _refused_for(ctx, find_worker(people, presence="T"), licence, "worker-outside-country"),
                _refused_for(ctx, find_worker(people, residence_valid=False), licence, "residence-expired"),
                _refused_for(ctx, find_worker(people, absconding=True), licence, "absconding-reported"),
                _refused_for(ctx, rival, "CL-0000-000000", "licence-not-found")]
    return (f"{mover.name.en} → CR {employer} ({licence}), police told ({moved['transfer_id']}); "
            f"refused: {', '.join(refusals)}")


def _police_transfers(ctx: DemoContext) -> list[str]:
    received = ctx.http.get(f"{ctx.urls['police']}/transfers", timeout=10).json()["transfers"]
    return [t["transfer_ref"] for t in received]
