"""Scenario 17: a projection applied on a route — each subscriber gets the fields it may have.

The shipped ``access.toml`` lets the Social Protection Fund receive a worker
data correction without the passport numbers and without the values licensing
held before (the fund keeps its own), while the police receive it whole. The
scenario files a correction on licensing's API and checks, where each side
would look:

* what each agency's system actually received (its simulator's register):
  the police the passport number, the fund no old value;
* the message log: licensing's copy for the fund is kept as published, and a
  ``projected`` record chained beside it names the fields withheld; the
  police's copy has none;
* the console's trail of that copy lists the projection, and the audit chain
  still verifies.
"""

from __future__ import annotations

from hub.console.trail import message_trail
from hub.signing import TrustStore, Verifier
from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect, wait_for
from simulators.demo.probes import arrived_worker

#: a worker no other scenario corrects
WORKER = 41


def projection_on_a_route(ctx: DemoContext) -> str:
    """Correct a worker's English name; the fund is told without what it may not have, the police whole."""
    worker = arrived_worker(ctx, WORKER)
    reply = ctx.http.post(f"{ctx.urls['licensing']}/api/workers/{worker.civil_number}/corrections", timeout=30,
                          json={"employer_cr": worker.employer_cr, "name_en": f"{worker.name.en} Projected"})
    expect(reply.status_code == 201, f"licensing answered {reply.status_code}: {reply.text[:200]}")
    correction = reply.json()
    ref = correction["correction_id"]
    police = wait_for(f"the police to receive {ref}", lambda: _received(ctx, "police", "correction_ref", ref))
    fund = wait_for(f"the fund to receive {ref}", lambda: _received(ctx, "insurance", "reference_no", ref))
    expect(police["passport_no"] == worker.passport_number,
           f"the police, entitled to the whole correction, got passport {police['passport_no']!r}")
    expect(fund["items"].get("FULL_NAME_EN") == f"{worker.name.en} Projected",
           f"the fund was not told the corrected name: {fund['items']}")
    expect(not fund["old_values"], f"the fund was sent values it may not have: {fund['old_values']}")
    copy_id = correction["notices"]["insurance"]
    projection = wait_for("the log to record the fund's projection", lambda: _projection(ctx, copy_id))
    police_hops = [e.status for e in ctx.log.events(correction["notices"]["police"])]
    expect("projected" not in police_hops, "the police's copy was projected, though they may have it all")
    expect(ctx.log.verify_chain(raise_on_error=False).ok, "the audit chain does not verify")
    return (f"{ref}: the fund got the new name without {', '.join(projection['withheld'])}; "
            f"the police got it whole; the trail of {copy_id[:8]} shows the projection; audit chain intact")


def _received(ctx: DemoContext, agency: str, key: str, ref: str) -> dict | None:
    """The correction ``ref`` as the agency's system recorded it, None before it arrived."""
    listed = ctx.http.get(f"{ctx.urls[agency]}/corrections", timeout=10).json()["corrections"]
    return next((c for c in listed if c[key] == ref), None)


def _projection(ctx: DemoContext, message_id: str) -> dict | None:
    """The fund's projection as the console's trail shows it, None until the worker chained it."""
    trail = message_trail(ctx.log, Verifier(TrustStore.load(ctx.settings.pki_dir)), message_id)
    found = [p for p in trail.get("projections", []) if p["party"] == "insurance"]
    return found[0] if found else None
