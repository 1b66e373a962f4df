"""The disclosure ledger in the console: the API a citizen portal's ``ledger`` token calls, and the page.

A ledger token may call the ledger API and nothing else (the API matrix in
test_console_api covers every endpoint; here the pages too); viewers may not
read ledgers; operators and admins may use both. Every look-up through the
console is chained under the caller's name.
"""

from __future__ import annotations

import base64
import json

import jwt
import pytest
import sqlalchemy as sa
from cryptography import x509

from console_support import accept_renewal, basic, console_users, make_hub
from hub.bootstrap import console_app
from hub.jws import compact, payload_of
from hub.messagelog.ledger import CONSULTED
from hub.messagelog.schema import audit_chain

WORKER = "120339847"
PAGES = ["/", "/dead-letters", "/trail", "/audit", "/actions", "/ledger", f"/ledger?civil={WORKER}"]


@pytest.fixture
def env(tmp_path, trust_store):
    hub = make_hub(tmp_path, trust_store)
    message_id = accept_renewal(hub, WORKER)
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users, breaker_states=dict)
    yield app.test_client(), hub, tokens, message_id
    app.extensions["rabt_console"].console.broker.close()
    hub.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def consultations(hub) -> list[tuple[str, str]]:
    with hub.log.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_chain.c.actor, audit_chain.c.message_id)
                            .where(audit_chain.c.status == CONSULTED).order_by(audit_chain.c.seq)).all()
    return [tuple(row) for row in rows]


def test_a_ledger_token_gets_its_signed_report_and_nothing_else(env):
    client, hub, tokens, message_id = env
    response = client.get(f"/api/v1/ledger/{WORKER}", headers=bearer(tokens["ledger"]))
    assert response.status_code == 200 and response.mimetype == "application/json"
    token = compact(response.json)
    certificate = x509.load_der_x509_certificate(base64.b64decode(jwt.get_unverified_header(token)["x5c"][0]))
    report = json.loads(jwt.api_jws.decode(token, certificate.public_key(), algorithms=["RS256"]))
    assert [e["message_id"] for e in report["entries"]] == [message_id]
    assert report["asked_by"] == "console:ledger-token"
    for path in PAGES:
        refused = client.get(path, headers=bearer(tokens["ledger"]))
        assert refused.status_code == 403, path
        assert refused.json["error"]["code"] == "forbidden"
    assert consultations(hub) == [("console:ledger-token", f"ledger:{WORKER}")]


def test_a_viewer_may_not_read_a_ledger_an_operator_may(env):
    client, hub, tokens, _ = env
    assert client.get(f"/api/v1/ledger/{WORKER}", headers=bearer(tokens["viewer"])).status_code == 403
    assert client.get("/ledger", headers=bearer(tokens["viewer"])).status_code == 403
    assert 'id="nav-ledger"' not in client.get("/", headers=bearer(tokens["viewer"])).get_data(as_text=True)
    assert consultations(hub) == []
    page = client.get("/", headers={"Authorization": basic("operator")}).get_data(as_text=True)
    assert 'id="nav-ledger"' in page


def test_the_page_shows_the_entries_linking_to_their_trails_in_both_languages(env):
    client, hub, tokens, message_id = env
    headers = {"Authorization": basic("operator")}
    page = client.get(f"/ledger?civil={WORKER}", headers=headers).get_data(as_text=True)
    assert f'data-message-id="{message_id}"' in page and f"/trail?q={message_id}" in page
    assert "Foreigners&#39; Residence Law, art. 17" in page and "Legal basis" in page
    arabic = client.get(f"/ledger?civil={WORKER}&lang=ar", headers=headers).get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "السند القانوني" in arabic and message_id in arabic
    assert 'id="ledger-consultations"' in arabic  # the English look-up before it is listed
    assert consultations(hub) == [("console:operator", f"ledger:{WORKER}")] * 2


@pytest.mark.parametrize("query,reason", [
    ("12345", "8 or 9 digits"), (f"{WORKER}?limit=5000", "limit"), (f"{WORKER}?from=yesterday", "from"),
    (f"{WORKER}?from=2026-12-01&until=2026-11-01", "empty"),
])
def test_bad_requests_are_400_naming_what_and_not_chained(env, query, reason):
    client, hub, tokens, _ = env
    response = client.get(f"/api/v1/ledger/{query}", headers=bearer(tokens["ledger"]))
    assert response.status_code == 400 and reason in response.json["error"]["reason"]
    page = client.get(f"/ledger?civil={query.replace('?', '&')}", headers={"Authorization": basic("admin")})
    assert page.status_code == 200 and 'id="ledger-error"' in page.get_data(as_text=True)
    assert consultations(hub) == []


def test_the_report_is_a_flattened_jws_whose_payload_is_the_report(env):
    client, _hub, tokens, _ = env
    signed = client.get(f"/api/v1/ledger/{WORKER}?from=2020-01-01", headers=bearer(tokens["admin"])).json
    assert set(signed) == {"protected", "payload", "signature"}
    report = payload_of(signed)
    assert report["format"] == "rabt-disclosure-ledger/1" and report["period"]["from"].startswith("2020-01-01T00:00")


def test_without_the_hubs_key_the_ledger_answers_503_naming_why(tmp_path):
    from hub.signing import TrustStore

    hub = make_hub(tmp_path, TrustStore(None, {}))
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users, breaker_states=dict)
    try:
        response = app.test_client().get(f"/api/v1/ledger/{WORKER}", headers=bearer(tokens["ledger"]))
        assert response.status_code == 503 and "no signing key" in response.json["error"]["reason"]
        assert consultations(hub) == []
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()
