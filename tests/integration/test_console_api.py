"""The console's JSON API, pages' access rules, /metrics and health, on a real hub.

Messages go through the real pipeline (mapping, schema, hub signature), the
outbox relay publishes them to a real SQLite broker, and a real consumer that
refuses them turns them into dead letters. Every endpoint is called with no
credentials and with every role.
"""

from __future__ import annotations

import os
import re
import time
import uuid

import lxml.html
import pytest

from tests.conftest import unavailable
import sqlalchemy as sa
from console_support import (
    PASSWORD, accept_arrival, accept_renewal, basic, console_users, dead_letter_all, deliver_all, make_hub, relay,
)
from hub.bootstrap import console_app
from hub.errors import InputError
from hub.transports import Message
from hub.console.openapi import openapi_document
from hub.console.users import role_allows
from hub.signing import TrustStore
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

ROLES = (None, "viewer", "operator", "admin", "ledger")
#: (method, path, role needed, JSON body)
ENDPOINTS = [
    ("GET", "/api/v1/whoami", "viewer", None),
    ("GET", "/api/v1/overview", "viewer", None),
    ("GET", "/api/v1/dead-letters", "viewer", None),
    ("POST", "/api/v1/dead-letters/replay", "operator", {"ids": ["no-such-letter"]}),
    ("POST", "/api/v1/dead-letters/discard", "operator", {"ids": ["no-such-letter"], "reason": "test"}),
    ("POST", "/api/v1/dead-letters/replay-matching", "operator", {"agency": "nobody"}),
    ("POST", "/api/v1/dead-letters/purge", "operator", {"queue": "courts", "confirm": "courts"}),
    ("GET", "/api/v1/queues/{queue}/peek", "viewer", None),
    ("GET", "/api/v1/messages?q=T1000001", "viewer", None),
    ("GET", "/api/v1/messages/{message_id}", "viewer", None),
    ("POST", "/api/v1/audit/verify", "operator", None),
    ("GET", "/api/v1/actions", "admin", None),
    ("GET", "/api/v1/alarms", "viewer", None),
    ("GET", "/api/v1/history?kind=agency&span=day", "viewer", None),
    ("GET", "/api/v1/numbers", "viewer", None),
    ("GET", "/api/v1/controls", "viewer", None),
    ("POST", "/api/v1/controls/pause", "operator", {"destination": "licensing"}),
    ("POST", "/api/v1/controls/resume", "operator", {"destination": "licensing"}),
    ("POST", "/api/v1/controls/reset-circuit", "operator", {"destination": "licensing"}),
    ("GET", "/api/v1/openapi.json", "viewer", None),
    ("GET", "/metrics", "viewer", None),
    ("GET", "/api/v1/ledger/{civil_number}", "ledger", None),
]


@pytest.fixture
def env(tmp_path, trust_store):
    """A hub with 3 accepted messages, published, then dead-lettered on the licensing queue."""
    hub = make_hub(tmp_path, trust_store)
    ids = {"arrival": accept_arrival(hub, "T1000001"), "arrival2": accept_arrival(hub, "T1000002"),
           "renewal": accept_renewal(hub, "120339847")}
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
        relay(hub, transport)
        assert dead_letter_all(hub, transport, "licensing") == 3
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users, breaker_states=lambda: {"police": "closed"})
    yield app, hub, tokens, ids
    app.extensions["rabt_console"].console.broker.close()
    hub.close()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def call(client, method, path, headers=None, body=None):
    return client.open(path, method=method, headers=headers or {}, json=body)


@pytest.mark.parametrize("method,path,needed,body", ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_every_endpoint_for_every_role(env, method, path, needed, body):
    app, _hub, tokens, ids = env
    client = app.test_client()
    path = path.format(message_id=ids["arrival"], queue="licensing", civil_number="120339847")
    for role in ROLES:
        response = call(client, method, path, bearer(tokens[role]) if role else {}, body)
        if role is None:
            assert response.status_code == 401, response.data
            assert response.json["error"]["code"] == "unauthenticated"
            assert "Basic" in response.headers["WWW-Authenticate"]
        elif not role_allows(role, needed):
            assert response.status_code == 403, (role, response.data)
            assert response.json["error"]["code"] == "forbidden"
        else:
            assert response.status_code == 200, (role, response.data)


def test_health_needs_no_credentials_and_metrics_do(env):
    app, *_ = env
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["ready"] is True
    assert set(ready.json["checks"]) == {"broker", "database", "keys"}
    assert client.get("/metrics").status_code == 401


def test_readyz_names_the_unreachable_broker_and_missing_keys(tmp_path, trust_store):
    # a real refusal: nothing listens on port 1
    hub = make_hub(tmp_path, TrustStore(None, {}), broker_url="amqp://guest:guest@127.0.0.1:1/")
    users, _ = console_users()
    app = console_app(hub, users=users)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"] == {"ok": True, "error": None}
    assert checks["broker"]["ok"] is False and "unreachable" in checks["broker"]["error"]
    assert checks["keys"] == {"ok": False, "error": "hub signing key not loaded"}
    hub.close()


def test_overview_counts_queues_adapters_and_log(env):
    app, _hub, tokens, _ids = env
    data = app.test_client().get("/api/v1/overview", headers=bearer(tokens["viewer"])).json
    assert data["broker"] == {"reachable": True, "error": None, "kind": "sqlite", "source": "transport"}
    assert data["database"] == {"reachable": True, "error": None}
    licensing = next(q for q in data["queues"] if q["name"] == "licensing")
    assert (licensing["ready"], licensing["dead_letters"]) == (0, 3)
    assert licensing["publish_rate"] == pytest.approx(3 / 60)  # 3 published within the 60 s window
    assert data["dead_letters_total"] == 3
    police = next(a for a in data["adapters"] if a["name"] == "police")
    assert (police["received"], police["dead_lettered"], police["circuit"]) == (3, 3, "closed")
    assert police["error_rate"] == 1.0 and police["last_success"].endswith("Z")
    assert {a["name"] for a in data["adapters"]} >= {"police", "commerce", "insurance", "centralbank", "courts"}
    assert data["log"]["by_status"] == {"dead-lettered": 3} and data["log"]["outbox_backlog"] == 0


def test_dead_letters_show_reason_attempts_and_both_payloads(env):
    app, _hub, tokens, ids = env
    letters = app.test_client().get("/api/v1/dead-letters", headers=bearer(tokens["viewer"])).json["dead_letters"]
    assert {d["message_id"] for d in letters} == set(ids.values())
    renewal = next(d for d in letters if d["message_id"] == ids["renewal"])
    assert renewal["reason"].startswith("licensing refused the record") and renewal["code"] == "input"
    assert renewal["attempts"] == 1 and renewal["queue"] == "licensing"
    assert "<r:Civil>120339847</r:Civil>" in renewal["original"]  # as the agency sent it
    assert "<rabt:CivilNumber>120339847</rabt:CivilNumber>" in renewal["canonical"]
    assert "عمران خان آفريدي" in renewal["canonical"]


def test_replay_puts_the_letter_back_audits_it_and_it_is_delivered(env):
    app, hub, tokens, ids = env
    client = app.test_client()
    letters = client.get("/api/v1/dead-letters", headers=bearer(tokens["operator"])).json["dead_letters"]
    target = next(d for d in letters if d["message_id"] == ids["arrival"])
    result = client.post("/api/v1/dead-letters/replay", headers=bearer(tokens["operator"]),
                         json={"ids": [target["id"], "no-such-letter"]}).json["results"]
    assert result[0] == {"id": target["id"], "ok": True, "message_id": ids["arrival"], "note": None}
    assert result[1]["ok"] is False and "no such dead letter" in result[1]["error"]
    left = client.get("/api/v1/dead-letters", headers=bearer(tokens["operator"])).json["dead_letters"]
    assert target["id"] not in {d["id"] for d in left} and len(left) == 2
    seen: list[str] = []
    with hub.open_transport() as transport:
        assert deliver_all(hub, transport, "licensing", seen) == 1
    assert seen == [ids["arrival"]]
    events = [(e.status, e.actor) for e in hub.log.events(ids["arrival"])]
    assert events[-2:] == [("replayed", "operator-token"), ("delivered", None)]
    assert hub.log.unpublished() == []  # replay did not queue a second copy through the outbox
    actions = client.get("/api/v1/actions", headers=bearer(tokens["admin"])).json["actions"]
    assert [(a["action"], a["target"], a["outcome"], a["actor"]) for a in actions[:2]] == [
        ("replay", "no-such-letter", "not-found", "operator-token"), ("replay", target["id"], "ok", "operator-token")]


def test_discard_removes_the_letter_and_audits_who(env):
    app, hub, tokens, ids = env
    client = app.test_client()
    letters = client.get("/api/v1/dead-letters", headers=bearer(tokens["admin"])).json["dead_letters"]
    chosen = [d["id"] for d in letters if d["message_id"] != ids["renewal"]]
    results = client.post("/api/v1/dead-letters/discard", headers=bearer(tokens["admin"]),
                          json={"ids": chosen, "reason": "duplicate of a later arrival"}).json["results"]
    assert all(r["ok"] for r in results) and len(results) == 2
    left = client.get("/api/v1/dead-letters", headers=bearer(tokens["admin"])).json["dead_letters"]
    assert [d["message_id"] for d in left] == [ids["renewal"]]
    last = hub.log.events(ids["arrival"])[-1]
    assert (last.status, last.actor) == ("discarded", "admin-token") and "duplicate of a later" in last.detail
    hub.log.verify_chain()  # operator actions are chain records, and the chain still verifies


@pytest.mark.parametrize("term", ["id", "correlation", "civil", "passport"])
def test_trail_finds_a_message_by_any_of_its_ids(env, term):
    app, hub, tokens, ids = env
    stored = hub.log.get(ids["renewal"])
    query = {"id": ids["renewal"], "correlation": stored.correlation_id, "civil": "120339847",
             "passport": "AB7712046"}[term]
    data = app.test_client().get(f"/api/v1/messages?q={query}", headers=bearer(tokens["viewer"])).json
    assert [m["message_id"] for m in data["messages"]] == [ids["renewal"]]
    message = data["messages"][0]
    assert message["signature"] == {"valid": True, "signer": "hub", "error": None}
    assert message["raw"] == stored.raw.decode() and message["canonical"] == stored.envelope.decode()
    assert [e["status"] for e in message["events"]] == ["received", "published", "dead-lettered"]
    assert {"field": "Name", "lang": "ar", "text": "عمران خان آفريدي"} in message["names"]


def test_trail_refuses_bad_terms_and_misses_partial_numbers(env):
    app, _hub, tokens, _ids = env
    client = app.test_client()
    assert client.get("/api/v1/messages?q=", headers=bearer(tokens["viewer"])).status_code == 400
    assert client.get("/api/v1/messages?q=" + "9" * 300, headers=bearer(tokens["viewer"])).status_code == 400
    # the whole text of an element matches, not a piece of it
    assert client.get("/api/v1/messages?q=2033984", headers=bearer(tokens["viewer"])).json["messages"] == []
    assert client.get("/api/v1/messages?q=%25", headers=bearer(tokens["viewer"])).json["messages"] == []
    missing = client.get(f"/api/v1/messages/{uuid.uuid4()}", headers=bearer(tokens["viewer"]))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not-found"
    assert client.get("/api/v1/dead-letters?limit=0", headers=bearer(tokens["viewer"])).status_code == 400
    bad = client.post("/api/v1/dead-letters/replay", headers=bearer(tokens["operator"]), json={"ids": []})
    assert bad.status_code == 400 and "ids" in bad.json["error"]["reason"]


def test_tampering_shows_as_a_bad_signature_and_a_broken_chain(env):
    app, hub, tokens, ids = env
    with hub.log.engine.begin() as conn:
        envelope = conn.execute(sa.text("SELECT envelope FROM payloads WHERE message_id = :m"),
                                {"m": ids["arrival2"]}).scalar()
        conn.execute(sa.text("UPDATE payloads SET envelope = :e WHERE message_id = :m"),
                     {"e": envelope.replace(b"T1000002", b"T1000003"), "m": ids["arrival2"]})
    client = app.test_client()
    trail = client.get(f"/api/v1/messages/{ids['arrival2']}", headers=bearer(tokens["viewer"])).json
    assert trail["signature"]["valid"] is False and "digest mismatch" in trail["signature"]["error"]
    report = client.post("/api/v1/audit/verify", headers=bearer(tokens["operator"])).json
    assert report["ok"] is False and report["record_id"] is not None and report["checked_by"] == "operator-token"


def test_basic_auth_and_the_csrf_rules(env):
    app, *_ = env
    client = app.test_client()
    assert client.get("/api/v1/whoami", headers={"Authorization": basic("operator")}).json["method"] == "basic"
    assert client.get("/api/v1/whoami", headers={"Authorization": basic("operator", "wrong")}).status_code == 401
    assert client.get("/api/v1/whoami", headers={"Authorization": "Basic %%%"}).status_code == 401
    assert client.get("/api/v1/whoami", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/v1/whoami", headers={"Authorization": basic("أمل")}).json["role"] == "operator"
    # basic credentials are ambient in a browser: a change must be a JSON request
    form_post = client.post("/api/v1/audit/verify", headers={"Authorization": basic("operator")}, data={"x": "1"})
    assert form_post.status_code == 403 and form_post.json["error"]["code"] == "csrf"
    json_post = client.post("/api/v1/audit/verify", headers={"Authorization": basic("operator")}, json={})
    assert json_post.status_code == 200 and json_post.json["ok"] is True


def login(client, user: str, password: str = PASSWORD):
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token})


def test_pages_need_a_login_and_session_changes_need_the_csrf_token(env):
    app, *_ = env
    client = app.test_client()
    first = client.get("/dead-letters")
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    assert login(client, "viewer", "wrong").status_code == 401
    assert login(client, "operator").status_code == 302
    page = client.get("/dead-letters").data.decode()
    assert page.count('class="dead-letter"') == 3
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/api/v1/audit/verify").json["error"]["code"] == "csrf"
    assert client.post("/api/v1/audit/verify", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/v1/audit/verify", headers={"X-CSRF-Token": csrf}).json["ok"] is True
    forged = client.post("/dead-letters/replay", data={"one": "1", "csrf_token": "forged"})
    assert forged.status_code == 403
    replayed = client.post("/dead-letters/replay", data={"one": "1", "csrf_token": csrf}, follow_redirects=True)
    assert replayed.status_code == 200 and replayed.data.decode().count('class="dead-letter"') == 2
    assert client.get("/actions").status_code == 403  # operator is not admin


def test_viewer_cannot_replay_from_the_page(env):
    app, *_ = env
    client = app.test_client()
    login(client, "viewer")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").data.decode()).group(1)
    assert client.post("/dead-letters/replay", data={"one": "1", "csrf_token": csrf}).status_code == 403
    assert client.get("/dead-letters").data.decode().count('class="dead-letter"') == 3


def test_after_five_wrong_passwords_that_name_is_not_checked_from_that_address_for_a_while(env):
    app, *_ = env
    throttle = app.extensions["rabt_console"].throttle
    now = [1000.0]
    throttle.clock = lambda: now[0]
    client = app.test_client()
    assert [login(client, "operator", f"guess-{n}").status_code for n in range(5)] == [401] * 5
    refused = login(client, "operator")  # the right password, no longer checked
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    assert "Too many failed logins: try again in 15 minute(s)." in refused.data.decode()
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert login(elsewhere, "operator").status_code == 302  # the user is not locked out of other machines
    assert login(client, "viewer").status_code == 302  # nor another user from this one
    now[0] += 900.5  # the failures have aged out
    for name in ("OPERATOR", "Operator", "operator", "operatoR", "OPERATOR"):  # counted case-blind
        assert login(client, name, "guess-6").status_code == 401
    assert login(client, "operator").status_code == 429
    now[0] += 900.5
    assert login(client, "operator").status_code == 302
    assert [login(client, "operator", f"guess-{n}").status_code for n in range(4)] == [401] * 4
    assert login(client, "operator").status_code == 302  # the success before cleared the count


def test_basic_credentials_are_throttled_too_and_tokens_are_not(env):
    app, _hub, tokens, _ids = env
    client = app.test_client()
    for n in range(5):
        assert client.get("/api/v1/whoami", headers={"Authorization": basic("admin", f"x{n}")}).status_code == 401
    refused = client.get("/api/v1/whoami", headers={"Authorization": basic("admin")})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "throttled"
    assert 890 <= int(refused.headers["Retry-After"]) <= 900
    assert client.get("/api/v1/whoami", headers=bearer(tokens["admin"])).status_code == 200


def test_login_does_not_redirect_off_site(env):
    app, *_ = env
    client = app.test_client()
    page = client.get("/login?next=//evil.example/x").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_arabic_pages_are_right_to_left(env):
    app, _hub, tokens, _ids = env
    client = app.test_client()
    page = client.get("/trail?q=120339847&lang=ar", headers=bearer(tokens["viewer"])).data.decode()
    assert '<html lang="ar" dir="rtl">' in page and "مسار الرسالة" in page
    assert '<bdi class="name" dir="auto" lang="ar">عمران خان آفريدي</bdi>' in page
    english = client.get("/trail?q=120339847&lang=en", headers=bearer(tokens["viewer"])).data.decode()
    assert '<html lang="en" dir="ltr">' in english and "Message trail" in english


def test_metrics_expose_rabt_series(env):
    from hub import metrics

    app, _hub, tokens, _ids = env
    metrics.record_received("police", "WorkerArrival")
    metrics.observe_end_to_end_latency(0.2)
    text = app.test_client().get("/metrics", headers=bearer(tokens["viewer"])).data.decode()
    assert 'rabt_dead_letters{queue="licensing"} 3.0' in text
    assert "rabt_outbox_backlog 0.0" in text
    assert re.search(r'rabt_messages_received_total\{agency="police",message_type="WorkerArrival"\} [1-9]', text)
    assert "rabt_end_to_end_latency_seconds_bucket" in text and "rabt_last_processed_timestamp_seconds" in text


def test_openapi_is_valid_and_covers_every_api_route(env):
    app, *_ = env
    document = openapi_document()
    validate_spec(document)
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    assert routes == set(document["paths"])
    for method, path, role, _ in ENDPOINTS:
        if path.startswith("/api/v1"):
            operation = document["paths"][path.split("?")[0].removeprefix("/api/v1")][method.lower()]
            assert operation["x-rabt-role"] == role


@pytest.mark.parametrize("method,path,needed,body", [e for e in ENDPOINTS if e[1].startswith("/api")],
                         ids=[e[1] for e in ENDPOINTS if e[1].startswith("/api")])
def test_real_answers_match_the_documented_schemas(env, method, path, needed, body):
    app, _hub, tokens, ids = env
    document = openapi_document()
    template = path.split("?")[0].removeprefix("/api/v1")
    path = path.format(message_id=ids["arrival"], queue="licensing", civil_number="120339847")
    response = call(app.test_client(), method, path, bearer(tokens["admin"]), body)
    refusal = call(app.test_client(), method, path)
    for answer in (response, refusal):
        declared = document["paths"][template][method.lower()]["responses"][str(answer.status_code)]
        schema = {**declared["content"]["application/json"]["schema"], "components": document["components"]}
        Draft202012Validator(schema).validate(answer.json)


@pytest.fixture(scope="module")
def postgres_url(postgres_database_url):
    return postgres_database_url


@pytest.mark.postgres
def test_search_and_overview_on_postgresql(tmp_path, trust_store, postgres_url):
    hub = make_hub(tmp_path, trust_store, database_url=postgres_url)
    renewal = accept_renewal(hub, "120339847")
    accept_arrival(hub, "T2000001")
    users, tokens = console_users()
    app = console_app(hub, users=users)
    client = app.test_client()
    found = client.get("/api/v1/messages?q=120339847", headers=bearer(tokens["viewer"])).json["messages"]
    assert [m["message_id"] for m in found] == [renewal] and found[0]["signature"]["valid"] is True
    assert client.get("/api/v1/messages?q=2033984", headers=bearer(tokens["viewer"])).json["messages"] == []
    data = client.get("/api/v1/overview", headers=bearer(tokens["viewer"])).json
    police = next(a for a in data["adapters"] if a["name"] == "police")
    assert police["received"] == 2 and data["log"]["outbox_backlog"] == 2
    app.extensions["rabt_console"].console.broker.close()
    hub.close()


def overview_with(client, token: str, queue: str, timeout: float = 30.0) -> tuple[dict, dict]:
    """The overview once it lists ``queue``, and that row: while the console's own sampler opens the broker
    view, a request is answered "still connecting" with no queues (on a loaded machine, for a while)."""
    deadline = time.monotonic() + timeout
    while True:
        overview = client.get("/api/v1/overview", headers=bearer(token)).json
        row = next((q for q in overview["queues"] if q["name"] == queue), None)
        if row is not None:
            return overview, row
        assert time.monotonic() < deadline, f"{queue} never listed: {overview['broker']}"
        time.sleep(0.2)


@pytest.mark.broker
def test_overview_dead_letters_and_replay_on_rabbitmq(tmp_path, trust_store):
    from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem, isolated_routes

    problem = broker_problem()
    if problem:
        unavailable(problem)
    routes = isolated_routes()
    hub = make_hub(tmp_path, trust_store, routes=routes, broker_url=DEFAULT_AMQP_URL)
    queue = routes.queue_for("licensing")
    users, tokens = console_users()
    app = console_app(hub, users=users, management_url=os.environ.get("RABT_RABBITMQ_MANAGEMENT_URL"))
    client = app.test_client()
    try:
        with hub.open_transport() as transport:
            transport.declare(routes)
            wanted = accept_arrival(hub, "T3000001")
            accept_arrival(hub, "T3000002")
            relay(hub, transport)
            overview, row = overview_with(client, tokens["viewer"], queue)
            assert overview["broker"]["kind"] == "amqp" and row["ready"] == 2
            assert dead_letter_all(hub, transport, queue) == 2
        letters = client.get("/api/v1/dead-letters", headers=bearer(tokens["viewer"])).json["dead_letters"]
        target = next(d for d in letters if d["message_id"] == wanted)
        result = client.post("/api/v1/dead-letters/replay", headers=bearer(tokens["operator"]),
                             json={"ids": [target["id"]]}).json["results"]
        assert result[0]["ok"] is True
        left = client.get("/api/v1/dead-letters", headers=bearer(tokens["viewer"])).json["dead_letters"]
        assert [d["message_id"] for d in left] != [] and wanted not in {d["message_id"] for d in left}
        seen: list[str] = []
        with hub.open_transport() as transport:
            deliver_all(hub, transport, queue, seen, idle_timeout=1.0)
        assert seen == [wanted]
    finally:
        app.extensions["rabt_console"].console.broker.close()
        with hub.open_transport() as transport:
            transport.undeclare(routes)
        hub.close()


def test_a_query_the_hub_never_stored_has_a_trail_through_its_dead_letter(env):
    """licensing → courts: the query is licensing's own message; its hops and dead letter find it."""
    app, hub, tokens, _ids = env
    query = Message(b"<q:CaseStatusQuery xmlns:q='urn:test'/>", "courts.CaseStatusQuery.licensing", "q-77", "corr-77")
    hub.log.record_hops([("q-77", "delivered", "attempt 1 from courts", None),
                         ("q-77", "called", "courts/registry CaseStatus", None),
                         ("q-77", "failed", "[agency-unavailable] courts down", None)])
    with hub.open_transport() as transport:
        transport.publish([query])
        transport.consume("courts", lambda d: (_ for _ in ()).throw(InputError("courts down")), idle_timeout=0.3)
    client = app.test_client()
    for term in ("q-77", "corr-77"):
        [found] = client.get(f"/api/v1/messages?q={term}", headers=bearer(tokens["viewer"])).json["messages"]
        assert (found["message_id"], found["stored"], found["destination"]) == ("q-77", False, "courts")
    letter = next(d for d in client.get("/api/v1/dead-letters?agency=licensing",
                                        headers=bearer(tokens["viewer"])).json["dead_letters"])
    result = client.post("/api/v1/dead-letters/replay", headers=bearer(tokens["operator"]), json={"ids": [letter["id"]]})
    assert result.json["results"][0]["ok"] is True and result.json["results"][0]["note"] is None
    trail = client.get("/api/v1/messages/q-77", headers=bearer(tokens["viewer"])).json
    assert [(e["status"], e["actor"]) for e in trail["events"]] == [
        ("delivered", None), ("called", None), ("failed", None), ("dead-lettered", None), ("replayed", "operator-token")]
    page = client.get("/trail?q=q-77", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200 and b"No message matches" not in page.data


def test_purge_replay_matching_and_peek_are_audited_in_the_chain(env):
    app, hub, tokens, ids = env
    client, operator = app.test_client(), bearer(tokens["operator"])
    refused = client.post("/api/v1/dead-letters/purge", headers=operator, json={"queue": "licensing", "confirm": "x"})
    assert refused.status_code == 400 and "confirm" in refused.json["error"]["reason"]
    matched = client.post("/api/v1/dead-letters/replay-matching", headers=operator,
                          json={"agency": "police", "until": "2999-01-01T00:00:00Z"}).json["results"]
    assert len(matched) == 3 and all(r["ok"] for r in matched)
    peek = client.get("/api/v1/queues/licensing/peek?limit=2", headers=bearer(tokens["viewer"])).json
    assert peek["depth"] == 3 and peek["exact"] is False
    assert {m["message_id"] for m in peek["messages"]} <= set(ids.values()) and len(peek["messages"]) == 2
    with hub.open_transport() as transport:
        dead_letter_all(hub, transport, "licensing")
    purged = client.post("/api/v1/dead-letters/purge", headers=operator,
                         json={"queue": "licensing", "confirm": "licensing"}).json
    assert purged == {"queue": "licensing", "purged": 3}
    chained = client.get("/api/v1/actions", headers=bearer(tokens["admin"])).json["chained"]
    assert chained[0]["action"] == "purged" and chained[0]["actor"] == "operator-token"
    assert [a["action"] for a in chained[1:4]] == ["discarded"] * 3
    assert sum(a["action"] == "replayed" for a in chained) == 3
    assert hub.log.verify_chain().ok
    _actions_page_speaks_arabic(client, bearer(tokens["admin"]))


def _actions_page_speaks_arabic(client, admin: dict) -> None:
    """Every action, outcome and chained record on the Arabic actions page is in Arabic, times in Muscat."""
    page = lxml.html.fromstring(client.get("/actions?lang=ar", headers=admin).data)
    rows = page.xpath('//table[@id="console-actions"]//tr[@class="action"]'
                      ' | //table[@id="chained-actions"]//tr[@class="chained"]')
    assert {r.get("data-action") for r in rows} >= {"purge", "replay", "purged", "discarded", "replayed"}
    assert {r.get("data-outcome") for r in rows if r.get("data-outcome")} >= {"ok", "refused"}
    for row in rows:
        words = [c.text_content() for c in row.xpath('td[@class="action-name" or @class="outcome"]')]
        assert all(re.search("[\u0600-\u06ff]", w) for w in words), (row.get("data-action"), words)
        [shown] = row.xpath(".//time")
        assert shown.get("title").endswith(" UTC") and shown.text != shown.get("title")[:19]  # local, UTC on hover
