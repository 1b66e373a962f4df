"""Metrics recorded by a real outbound worker: licensing asks over the embedded SQLite broker,
the worker calls the police simulator over real HTTP, and the figures are read back from the
``/metrics`` text (the process-metrics app with a viewer token, parsed by prometheus_client's
own parser) before and after, so only this test's deliveries are counted.
"""

from __future__ import annotations

import re

import pytest
from console_support import basic, console_users
from outbound_helpers import Asker, HubRig, canonical, police_worker, text, wait_for
from prometheus_client.parser import text_string_to_metric_families

from hub.bootstrap import console_app
from hub.console.health import create_metrics_app
from hub.transports.testing import isolated_routes

FAST = {"call_timeout": 2.0, "attempts": 2, "backoff": 0.01, "breaker_failures": 3, "breaker_reset": 30.0}
QUERY = {"agency": "police", "message_type": "CivilStatusQuery"}
PROMETHEUS_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class Scraper:
    """GET /metrics as Prometheus would (bearer token), parsed into {(name, labels): value}."""

    def __init__(self) -> None:
        users, tokens = console_users()
        self.client = create_metrics_app(users).test_client()
        self.headers = {"Authorization": f"Bearer {tokens['viewer']}"}

    def text(self) -> str:
        response = self.client.get("/metrics", headers=self.headers)
        assert response.status_code == 200 and response.content_type.startswith("text/plain")
        return response.data.decode()

    def samples(self) -> dict[tuple[str, frozenset], float]:
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(self.text()) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name: str, **labels) -> float:
    """Sum over every series of ``name`` whose labels include ``labels`` (e.g. over codes)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture
def rig(tmp_path, trust_store):
    routes = isolated_routes(delays=(0.2,), max_attempts=3)
    rig = HubRig(tmp_path, f"sqlite:///{tmp_path / 'broker.sqlite3'}", routes, trust_store)
    with rig.open_transport() as admin:
        admin.declare(routes)
    yield rig
    rig.close()


@pytest.fixture
def police(rig):
    with police_worker(rig, **FAST) as sim:
        yield sim


@pytest.fixture
def asker(rig, pki_dir, trust_store):
    with rig.open_transport() as transport:
        yield Asker(pki_dir, trust_store, transport)


def test_answered_queries_count_as_delivered_with_end_to_end_latency(rig, police, asker):
    scrape = Scraper()
    before = scrape.samples()
    assert value(before, "rabt_circuit_state", agency="police", service="civil-registry") == 0  # known from start
    citizen = police.population.find_citizen(marital_status="married")
    _, header, _ = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
    assert header.message_type == "CivilStatusRecord"
    _, fault, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="19999999"), "police")
    assert fault.message_type == "Fault" and text(body, "Code") == "not-found"  # the agency's answer: delivered
    # the asker has its answer a moment before the handler returns and the delivery is counted
    after = wait_for(lambda: (s := scrape.samples()) and value(s, "rabt_messages_delivered_total", **QUERY)
                     - value(before, "rabt_messages_delivered_total", **QUERY) == 2 and s)
    assert total(after, "rabt_messages_failed_total", **QUERY) == total(before, "rabt_messages_failed_total", **QUERY)
    count = "rabt_end_to_end_latency_seconds_count"
    assert value(after, count) - value(before, count) == 2
    seconds = value(after, "rabt_end_to_end_latency_seconds_sum") - value(before, "rabt_end_to_end_latency_seconds_sum")
    assert 0 < seconds < 60  # from the query's ReceivedAt to the answered delivery, both here and now
    assert value(after, "rabt_last_processed_timestamp_seconds") > 0
    assert value(after, "rabt_circuit_state", agency="police", service="civil-registry") == 0


def test_agency_down_counts_each_failed_attempt_with_its_code_and_one_dead_letter(rig, police, asker):
    scrape = Scraper()
    before = scrape.samples()
    police.fault(mode="down")  # HTTP 503 on every call
    query, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="10000003"), "police")
    assert header.message_type == "Fault" and text(body, "Recoverable") == "true"
    with rig.open_transport() as ops:
        [letter] = wait_for(lambda: ops.dead_letters(rig.hub.routes.queue_for("police")))
    assert letter.message_id == query.message_id and letter.attempts == 3
    after = wait_for(lambda: (s := scrape.samples()) and total(s, "rabt_messages_dead_lettered_total", **QUERY)
                     - total(before, "rabt_messages_dead_lettered_total", **QUERY) == 1 and s)

    def grew(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("rabt_messages_failed_total", **QUERY) == 3  # one per delivery attempt
    # first attempt: the 503s themselves; the breaker opens on the third consecutive failure
    assert grew("rabt_messages_failed_total", **QUERY, code="agency-unavailable") >= 1
    assert grew("rabt_messages_failed_total", **QUERY) == sum(
        grew("rabt_messages_failed_total", **QUERY, code=code) for code in ("agency-unavailable", "circuit-open"))
    assert grew("rabt_messages_dead_lettered_total", **QUERY, code=letter.code) == 1  # the code it died with
    assert grew("rabt_messages_delivered_total", **QUERY) == 0
    assert value(after, "rabt_circuit_state", agency="police", service="civil-registry") == 2  # open


def test_a_garbage_answer_is_a_refusal_and_still_an_answer(rig, police, asker):
    scrape = Scraper()
    before = scrape.samples()
    police.fault(mode="malformed", count=1)
    _, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="10000001"), "police")
    assert header.message_type == "Fault" and text(body, "Code") == "parse"
    after = wait_for(lambda: (s := scrape.samples()) and value(s, "rabt_messages_delivered_total", **QUERY)
                     > value(before, "rabt_messages_delivered_total", **QUERY) and s)
    refused = {"agency": "police", "code": "parse"}
    assert value(after, "rabt_messages_refused_total", **refused) - value(before, "rabt_messages_refused_total",
                                                                          **refused) == 1


def test_metric_names_follow_prometheus_conventions(rig, police, asker):
    asker.ask(canonical("CivilStatusQuery", CivilNumber="10000001"), "police")
    page = Scraper().text()
    families = list(text_string_to_metric_families(page))
    names = {f.name: f.type for f in families}
    assert all(PROMETHEUS_NAME.match(name) and name.startswith("rabt_") for name in names)
    # the parser strips _total from counter family names: check the samples themselves
    for family in families:
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
    for wanted in ("rabt_messages_delivered", "rabt_messages_failed", "rabt_messages_dead_lettered",
                   "rabt_messages_received", "rabt_messages_published"):
        assert names.get(wanted) == "counter", wanted
    assert names["rabt_end_to_end_latency_seconds"] == "histogram"
    assert names["rabt_publish_confirm_latency_seconds"] == "histogram"
    assert names["rabt_circuit_state"] == "gauge"


def test_process_metrics_need_a_viewer_and_health_does_not():
    client = Scraper().client
    assert client.get("/metrics").status_code == 401
    assert client.get("/healthz").json == {"status": "ok"}
    # readiness needs no credentials either (a balancer asks it); with no probes only the loops' outages count
    assert client.get("/readyz").json == {"ready": True, "checks": {}}


def test_console_shows_circuits_of_its_running_workers_and_says_why_for_the_others(rig, police, asker):
    users, tokens = console_users()
    app = console_app(rig.hub, {"SECRET_KEY": "test"}, users=users)  # default: this process's running workers
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}

    def adapters() -> dict[str, dict]:
        return {a["name"]: a for a in app.test_client().get("/api/v1/overview", headers=headers).json["adapters"]}

    try:
        rows = adapters()
        assert (rows["police"]["circuit"], rows["police"]["circuit_detail"]) == ("closed", None)  # the rig's worker
        assert rows["commerce"]["circuit"] == "unknown"  # no commerce worker runs here
        assert "none reported its circuit" in rows["commerce"]["circuit_detail"]
        assert (rows["centralbank"]["circuit"], rows["centralbank"]["circuit_detail"]) == ("none", "calls no agency service")
        page = app.test_client().get("/", headers=headers).data.decode()
        assert 'class="circuit unknown" title="no commerce outbound worker runs' in page
        police.fault(mode="down")
        asker.ask(canonical("CivilStatusQuery", CivilNumber="10000003"), "police")
        assert adapters()["police"]["circuit"] == "open"
        rig.stop.set()  # the worker stops consuming: its breakers are nobody's view any more
        for thread in rig.threads:
            thread.join(10)
        assert adapters()["police"]["circuit"] == "unknown"
        assert ("rabt_circuit_state", frozenset({"agency": "police", "service": "civil-registry"}.items())) \
            not in Scraper().samples()
    finally:
        app.extensions["rabt_console"].console.broker.close()


def test_the_metrics_process_takes_basic_credentials_with_the_same_throttle():
    users, _ = console_users()
    client = create_metrics_app(users).test_client()
    assert client.get("/metrics", headers={"Authorization": basic("viewer")}).status_code == 200
    for n in range(5):
        assert client.get("/metrics", headers={"Authorization": basic("viewer", f"guess-{n}")}).status_code == 401
    refused = client.get("/metrics", headers={"Authorization": basic("viewer")})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "throttled"
