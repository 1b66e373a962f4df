"""Scenario 12: an employer corrects a worker's data on licensing's API; every subscriber is told.

The police and the insurance fund subscribe to worker data corrections: each
receives its copy (one correlation id), the trail shows both delivered, and a
correction by another employer is refused.
"""

from __future__ import annotations

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.probes import arrived_worker


def _corrections_received(ctx: DemoContext, agency: str) -> list[dict]:
    return ctx.http.get(f"{ctx.urls[agency]}/corrections", timeout=10).json()["corrections"]


def worker_corrections(ctx: DemoContext) -> str:
    """The employer corrects an arrived worker's English name and passport; every subscriber is told."""
    worker = arrived_worker(ctx, 23)
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/workers/{worker.civil_number}/corrections", timeout=30,
                          json={"employer_cr": worker.employer_cr, "name_en": f"{worker.name.en} Corrected",
                                "passport_number": "X" + worker.passport_number[1:]})
    expect(reply.status_code == 201, f"licensing answered {reply.status_code}: {reply.text[:200]}")
    correction = reply.json()
    expect(set(correction["notices"]) == {"police", "insurance"},
           f"subscribers told: {sorted(correction['notices'])} ({correction.get('notice_error')})")
    ref = correction["correction_id"]
    for agency, key in (("police", "correction_ref"), ("insurance", "reference_no")):
        wait_for(f"{agency} to receive {ref}",
                 lambda a=agency, k=key: any(c[k] == ref for c in _corrections_received(ctx, a)))
    trail = wait_for("the trail to show both copies delivered", lambda: _delivered_copies(ctx, correction))
    refused = ctx.http.post(f"{ctx.urls['licensing']}/api/workers/{worker.civil_number}/corrections", timeout=30,
                            json={"employer_cr": "1999999", "name_en": "Somebody Else"})
    expect(refused.status_code == 403, f"a correction by another employer answered {refused.status_code}")
    return (f"{ref}: name and passport corrected; told {', '.join(sorted(trail))} "
            f"(one correlation id, {len(trail)} messages delivered); another employer refused")


def _delivered_copies(ctx: DemoContext, correction: dict) -> dict[str, str] | None:
    copies = ctx.log.find(correlation_id=correction["correlation_id"])
    delivered = {m.destination: m.message_id for m in copies
                 if any(e.status == "delivered" for e in ctx.log.events(m.message_id))}
    return delivered if delivered == correction["notices"] else None
