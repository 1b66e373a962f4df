"""Licensing refers unsettled complaints to the court as a canonical, signed message."""

from __future__ import annotations

import datetime as dt

import pytest

from hub import canonical
from hub.transports import open_transport
from hub.transports.testing import isolated_routes
from hub.signing import Verifier
from hub.xmlsafe import parse_xml
from simulators.licensing.app import create_app
from simulators.licensing.hub_link import licensing_seal
from simulators.licensing.referrals import HubReferrals, referral_body
from simulators.licensing.state import LicensingState

COMPLAINT = {"complaint_id": "CMP-2026-000117", "employer_cr": "1000042", "employer_name_en": "Al Noor Trading",
             "worker_civil_number": "20000123", "worker_name_en": "Rajesh Kumar", "worker_name_ar": "راجيش كومار",
             "worker_nationality": "IND", "subjects": ["unpaid-wages"], "amount_claimed": "845.5"}


@pytest.fixture
def app_and_sent(tmp_path):
    sent = []

    def refer(body):
        sent.append(body)
        return "7d5f9ce0-c18d-4664-8155-dcd1e98cf1db"

    app = create_app({"home": str(tmp_path)}, state=LicensingState(f"sqlite:///{tmp_path / 'l.sqlite3'}"), refer=refer)
    return app.test_client(), sent


def test_referral_is_a_valid_canonical_message(app_and_sent):
    client, sent = app_and_sent
    reply = client.post("/api/referrals", json=COMPLAINT)
    assert reply.status_code == 202 and reply.get_json()["message_id"]
    canonical.validate(sent[0])
    assert sent[0].findtext("{*}AmountClaimed") == "845.500"
    assert sent[0].findtext("{*}Parties/{*}Worker/{*}Nationality") == "IND"


@pytest.mark.parametrize("field, value", [("employer_cr", "12"), ("worker_nationality", "India"),
                                          ("employer_name_en", None), ("amount_claimed", "lots")])
def test_bad_referral_is_refused_naming_the_field(app_and_sent, field, value):
    client, sent = app_and_sent
    reply = client.post("/api/referrals", json={**COMPLAINT, field: value})
    assert reply.status_code == 400 and field in reply.get_json()["reason"]
    assert sent == []


def test_published_referral_is_signed_by_licensing_and_routed_to_courts(tmp_path, pki_dir, trust_store):
    routes = isolated_routes()
    with open_transport(f"sqlite:///{tmp_path / 'b.sqlite3'}", routes=routes) as transport:
        transport.declare(routes)
        message_id = HubReferrals(transport, licensing_seal(pki_dir))(referral_body(COMPLAINT, dt.date(2026, 11, 22)))
        got = []
        transport.consume(routes.queue_for("courts"), got.append, max_messages=1, idle_timeout=5)
    assert got[0].message.message_id == message_id
    verified = Verifier(trust_store).verify(parse_xml(got[0].message.body), expected_signer="licensing")
    canonical.validate(verified.element)
