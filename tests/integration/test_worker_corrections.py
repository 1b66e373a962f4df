"""A worker's corrected data told to every subscriber, over real transports, workers and simulators.

Licensing's correction service publishes through the transport with its own
key (as in production), the police and insurance outbound workers deliver each
copy to their simulator over HTTP in the agency's own contract, and the hub's
message log holds every copy under the correction's correlation id — the
trail that shows who was told. SQLite always, RabbitMQ when it is up.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from outbound_helpers import FAST, simulator, wait_for
from outbound_helpers import broker_routes, rig  # noqa: F401 - fixtures this module's tests take

from hub.console.trail import message_trail
from hub.outbound import OutboundSettings
from simulators.licensing import effects
from simulators.licensing.corrections import Corrections, CorrectionRequest
from simulators.licensing.hub_link import TransportNotify, licensing_seal
from simulators.licensing.state import LicensingState

@pytest.fixture
def agencies(rig):
    with simulator("police") as police, simulator("insurance") as insurance:
        rig.start("police", OutboundSettings(endpoints={
            "RABT_POLICE_CIVIL_REGISTRY_URL": police.url("civil-registry"),
            "RABT_POLICE_TRANSFER_URL": police.url("transfer")}, **FAST))
        rig.start("insurance", OutboundSettings(endpoints={
            "RABT_INSURANCE_SOCIAL_INSURANCE_URL": insurance.url("social-insurance"),
            "RABT_INSURANCE_CIVIL_SERVICE_PENSION_URL": insurance.url("civil-service-pension")}, **FAST))
        yield police, insurance


def received(sim, kind: str = "corrections") -> list[dict]:
    return requests.get(f"{sim.base}/{kind}", timeout=5).json()[kind]


def correct_english_name(rig, police, pki_dir, tmp_path, number: int):
    """Worker ``number`` arrived (in licensing's own state), then licensing corrects their English name."""
    worker = police.population.worker(number)
    state = LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
    arrival = {"kind": "WorkerArrival", "employer_cr": worker.employer_cr, "occurred_at": "2026-05-01T06:00:00Z",
               "visa_number": f"EV-{number}", "licence_number": None, "port": "MCT", "sponsor_civil_number": None,
               "worker": {"civil_number": worker.civil_number, "passport_number": worker.passport_number,
                          "names": {"ar": worker.name.ar, "en": worker.name.en}, "nationality": worker.nationality}}
    state.apply_once(f"arrival-{number}", lambda conn: effects.worker_event(conn, f"arrival-{number}", arrival))
    with rig.open_transport() as transport:
        corrections = Corrections(state, TransportNotify(transport, licensing_seal(pki_dir)),
                                  rig.hub.routes.subscribers("WorkerDataCorrected"),
                                  lambda: datetime.now(timezone.utc))
        done = corrections.correct(CorrectionRequest(worker.civil_number, f"CRNumber:{worker.employer_cr}",
                                                     (("name_en", "Corrected Name"),)))
    state.engine.dispose()
    return worker, done


def test_each_subscriber_is_told_in_its_contract_and_the_trail_shows_every_copy(rig, agencies, pki_dir, tmp_path):
    police, insurance = agencies
    worker, done = correct_english_name(rig, police, pki_dir, tmp_path, 5)
    assert set(done["notices"]) == {"police", "insurance"}
    [told_police] = wait_for(lambda: received(police))
    [told_insurance] = wait_for(lambda: received(insurance))
    assert told_police["correction_ref"] == done["correction_id"] == told_insurance["reference_no"]
    assert told_police["corrected"] == {"NewNameEn": "Corrected Name"}
    assert told_insurance["items"] == {"FULL_NAME_EN": "Corrected Name"}

    log = rig.hub.log

    def delivered():
        copies = log.find(correlation_id=done["correlation_id"])
        # "delivered" with the agency's acknowledgement, whatever hops the worker chained around it
        acknowledged = {m.destination: any(e.status == "delivered" and e.detail.startswith("acknowledged by")
                                           for e in log.events(m.message_id)) for m in copies}
        return copies if len(copies) == 2 and all(acknowledged.values()) else None

    copies = wait_for(delivered)
    assert {m.destination: m.message_id for m in copies} == done["notices"]
    assert {(m.message_type, m.source_agency) for m in copies} == {("WorkerDataCorrected", "licensing")}


def test_a_subscriber_is_told_only_the_fields_it_may_have_and_the_trail_says_which(rig, agencies, pki_dir,
                                                                                    tmp_path):
    """The shipped access.toml withholds from the fund the passport numbers and the values held before."""
    police, insurance = agencies
    worker, done = correct_english_name(rig, police, pki_dir, tmp_path, 6)
    [told_police] = wait_for(lambda: received(police))
    [told_insurance] = wait_for(lambda: received(insurance))
    assert told_police["passport_no"] == worker.passport_number, "police are entitled to the whole correction"
    assert told_insurance["items"] == {"FULL_NAME_EN": "Corrected Name"}
    assert told_insurance["old_values"] == {}, "the fund was sent the name licensing held before"

    log = rig.hub.log


    def handled():  # each worker chains its delivery's hops once it has handled it
        found = {m.destination: m for m in log.find(correlation_id=done["correlation_id"])
                 if "answered" in [e.status for e in log.events(m.message_id)]}
        return found if len(found) == 2 else None

    copies = wait_for(handled)
    # licensing's copy for the fund is logged whole, as it was published; what the fund got is chained beside it
    assert worker.name.en.encode() in copies["insurance"].envelope
    (projected,) = [e.detail for e in log.events(copies["insurance"].message_id) if e.status == "projected"]
    assert projected.endswith("withheld Worker/PassportNumber, Previous/PassportNumber, Correction/Before")
    assert "projected" not in [e.status for e in log.events(copies["police"].message_id)]
    trail = message_trail(log, rig.hub.verifier, copies["insurance"].message_id)
    assert [(p["party"], p["withheld"]) for p in trail["projections"]] == [
        ("insurance", ["Worker/PassportNumber", "Previous/PassportNumber", "Correction/Before"])]
    assert log.verify_chain().ok
