"""The console's alarm band, history, numbers and languages against a real hub (SQLite log and
broker, signed messages through the real pipeline, certificates from the real PKI)."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import sqlalchemy as sa
from console_support import accept_arrival, console_users, dead_letter_all, deliver_all, make_hub, relay

from hub.bootstrap import console_app
from hub.console.alarms import BY_NAME, Snapshot, evaluate
from hub.console.history import HistoryStore, Sampler
from hub.messagelog.schema import outbox, timestamp
from hub.pki import PkiPaths, cert_pem, init_pki, issue_certificate, load_certificate, load_private_key
from hub.pki import new_private_key, register_agency_certificate
from hub.signing import TrustStore


@pytest.fixture
def console(tmp_path, trust_store):
    """(hub, app, viewer headers) — the history sampler is driven by the tests, not a thread."""
    hub = make_hub(tmp_path, trust_store)
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test", "SAMPLE_HISTORY": False}, users=users,
                      breaker_states=lambda: {"police": "closed", "courts": "open"})
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
    yield hub, app, {"Authorization": f"Bearer {tokens['viewer']}"}
    app.extensions["rabt_console"].console.broker.close()
    hub.close()


def alarms_of(app, headers) -> dict[tuple[str, str], dict]:
    body = app.test_client().get("/api/v1/alarms", headers=headers).json
    return {(a["name"], a["subject"]): a for a in body["alarms"]}


def test_a_backlog_without_consumer_and_dead_letters_are_alarms_worst_first(console):
    hub, app, headers = console
    for n in range(3):
        accept_arrival(hub, f"T200000{n}")
    with hub.open_transport() as transport:
        relay(hub, transport)
        assert dead_letter_all(hub, transport, "licensing") == 3
    for n in range(4):
        accept_arrival(hub, f"T300000{n}")
    with hub.open_transport() as transport:
        relay(hub, transport)
    found = alarms_of(app, headers)
    waiting = found[("RabtQueueWithoutConsumer", "licensing")]
    assert waiting["severity"] == "critical" and waiting["value"] == 4
    assert waiting["href"] == "/#queues"
    dead = found[("RabtDeadLetters", "licensing")]
    assert dead["value"] == 3 and dead["href"] == "/dead-letters?queue=licensing"
    assert found[("RabtCircuitOpen", "courts")]["severity"] == "critical"
    severities = [a["severity"] for a in app.test_client().get("/api/v1/alarms", headers=headers).json["alarms"]]
    assert severities == sorted(severities, key=["critical", "warning"].index)
    page = app.test_client().get("/dead-letters", headers=headers).get_data(as_text=True)  # every page has the band
    assert 'data-alarm="RabtQueueWithoutConsumer" data-subject="licensing"' in page
    assert "4 messages wait in licensing and nothing consumes them" in page


def test_a_consumer_clears_the_alarm(console):
    hub, app, headers = console
    accept_arrival(hub, "T4000001")
    with hub.open_transport() as transport:
        relay(hub, transport)
        assert ("RabtQueueWithoutConsumer", "licensing") in alarms_of(app, headers)
        assert deliver_all(hub, transport, "licensing") == 1
    time.sleep(1.1)  # one evaluation serves the pages of one second
    assert ("RabtQueueWithoutConsumer", "licensing") not in alarms_of(app, headers)


def test_a_lagging_outbox_and_spiking_refusals_are_alarms(console):
    hub, app, headers = console
    accept_arrival(hub, "T5000001")  # stored, never relayed
    with hub.log.engine.begin() as conn:  # as if the relay had been down for two minutes
        conn.execute(sa.update(outbox).values(enqueued_at=timestamp(dt.datetime.now(dt.timezone.utc)
                                                                     - dt.timedelta(minutes=2))))
    for n in range(11):
        hub.pipeline.refuse(b"<bad/>", agency="police", code="Client.Signature", reason=f"wrong key {n}")
    found = alarms_of(app, headers)
    assert found[("RabtOutboxLagging", "outbox")]["value"] >= 120
    assert found[("RabtRefusalsSpiking", "police")]["value"] == 11
    numbers = app.test_client().get("/api/v1/numbers", headers=headers).json
    assert {"agency": "police", "code": "Client.Signature", "count": 11} in numbers["refusals"]


def test_an_unreachable_broker_is_a_readiness_alarm(tmp_path):
    hub = make_hub(tmp_path, TrustStore(None, {}), broker_url="amqp://guest:guest@127.0.0.1:1/")
    users, tokens = console_users()
    app = console_app(hub, {"SAMPLE_HISTORY": False}, users=users)
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    try:
        found = alarms_of(app, viewer)
        band = app.test_client().get("/?lang=ar", headers=viewer).data.decode()
    finally:
        hub.close()
    assert {("RabtNotReady", "broker"), ("RabtNotReady", "keys")} <= set(found)
    assert found[("RabtNotReady", "broker")]["href"] == "/readyz"
    # the check's name is said in Arabic on an Arabic page (it read "فحص broker يفشل")
    assert "غير جاهز: فحص الوسيط يفشل" in band and "فحص broker" not in band


def test_certificates_expiring_and_expired_are_alarms(tmp_path):
    pki = tmp_path / "pki"
    init_pki(pki, ["police", "courts"])
    paths = PkiPaths(pki)
    ca, ca_key = load_certificate(paths.ca_cert), load_private_key(paths.ca_key)
    soon = issue_certificate("courts", new_private_key("ec"), ca, ca_key, days=10)
    register_agency_certificate(pki, "courts", cert_pem(soon), replace=True)
    gone = issue_certificate("police", new_private_key("ec"), ca, ca_key, days=5,
                             not_before=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=7))
    register_agency_certificate(pki, "police", cert_pem(gone), replace=True)
    hub = make_hub(tmp_path, TrustStore.load(pki))
    users, tokens = console_users()
    app = console_app(hub, {"SAMPLE_HISTORY": False}, users=users, breaker_states=dict)
    try:
        found = alarms_of(app, {"Authorization": f"Bearer {tokens['viewer']}"})
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()
    expiring = found[("RabtCertificateExpiring", f"courts {format(soon.serial_number, 'x')}")]
    assert expiring["value"] == 9 and expiring["href"] == "/#certificates"
    assert found[("RabtCertificateExpired", f"police {format(gone.serial_number, 'x')}")]["severity"] == "critical"


def test_the_sampler_derives_deliveries_and_the_overview_shows_them(console):
    hub, app, headers = console
    state = app.extensions["rabt_console"]
    sampler, step = Sampler(state.console, state.console.history, every=2), 2
    start = (time.time() // step + 1) * step
    time.sleep(start + 0.05 - time.time())  # the interval sampled next begins now
    sampler.sample(now=start)
    for n in range(6):
        accept_arrival(hub, f"T600000{n}")
    with hub.open_transport() as transport:
        relay(hub, transport)
        assert deliver_all(hub, transport, "licensing") == 6
    time.sleep(max(0.0, start + step + 0.05 - time.time()))
    sampler.sample(now=start + step)
    history = app.test_client().get("/api/v1/history?kind=queue", headers=headers).json
    licensing = history["series"]["licensing"]
    assert sum(v for _, v in licensing["published"]) * 60 == pytest.approx(6)
    assert sum(v for _, v in licensing["delivered"]) * 60 == pytest.approx(6)  # 6 in, depth unchanged: 6 out
    assert licensing["depth"][-1][1] == 0
    queue = next(q for q in app.test_client().get("/api/v1/overview", headers=headers).json["queues"]
                 if q["name"] == "licensing")
    assert queue["deliver_rate"] == pytest.approx(6 / 60)
    agencies = app.test_client().get("/api/v1/history?kind=agency&span=day", headers=headers).json
    assert agencies["step"] == 900
    assert sum(v for _, v in agencies["series"]["police"]["received"]) * 900 == pytest.approx(6, abs=0.01)


def test_history_refuses_an_unknown_kind_or_span(console):
    _hub, app, headers = console
    response = app.test_client().get("/api/v1/history?kind=planet&span=year", headers=headers)
    assert response.status_code == 400 and "hour or a day" in response.json["error"]["reason"]


def test_latency_is_held_against_its_target(console):
    hub, app, headers = console
    for n in range(5):
        accept_arrival(hub, f"T700000{n}")
    with hub.open_transport() as transport:
        relay(hub, transport)
    rows = app.test_client().get("/api/v1/numbers", headers=headers).json["latency"]
    police = next(r for r in rows if (r["agency"], r["operation"]) == ("police", "WorkerArrival"))
    assert police["count"] == 5 and 0 <= police["p50"] <= police["p99"] < 5.0
    assert police["target_p99"] == 5.0 and police["met"] is True


def test_backlog_growing_for_minutes_is_an_alarm(tmp_path):
    store, now = HistoryStore(tmp_path / "history.sqlite3"), time.time()
    for minute in range(7):  # a depth rising every minute for six minutes
        store.write(int(now - 360 + minute * 60), [("queue", "licensing", "depth", 10 + minute * 5)])
    queues = [{"name": "licensing", "ready": 40, "consumers": 1, "dead_letters": 0}]
    snapshot = Snapshot({"queues": queues, "adapters": [], "certificates": []},
                        {"checks": {}}, None, {}, store.series("queue", "hour", now), now)
    found = [(a["name"], a["subject"]) for a in evaluate(snapshot)]
    assert found == [("RabtBacklogGrowing", "licensing")]
    assert BY_NAME["RabtBacklogGrowing"].window_seconds == 300
    store.close()


def test_arabic_page_translates_values_and_digits_and_shows_local_time(console):
    hub, app, headers = console
    accept_arrival(hub, "T8000001")
    client = app.test_client()
    page = client.get("/?lang=ar&digits=arabic", headers=headers).get_data(as_text=True)
    assert 'class="circuit open"' in page and ">مفتوحة</td>" in page  # courts' circuit, translated
    assert re.search(r'<time datetime="[0-9T:.Z-]+" title="[0-9 :-]+ UTC" dir="ltr">[٠-٩ :-]+</time>', page)
    assert '<span id="role">مطّلع</span>' in page  # the viewer role, translated
    english = client.get("/?lang=en&digits=latin", headers=headers).get_data(as_text=True)
    generated = re.search(r'<time datetime="([^"]+)" title="([^"]+)"', english)
    utc = dt.datetime.fromisoformat(generated.group(1).replace("Z", "+00:00"))
    shown = re.search(r'dir="ltr">([0-9 :-]+)</time>', english).group(1)
    assert shown == (utc + dt.timedelta(hours=4)).strftime("%Y-%m-%d %H:%M:%S")  # Asia/Muscat is UTC+4


def test_an_anchor_long_without_its_timestamp_is_an_alarm_where_a_tsa_is_configured(tmp_path, trust_store):
    from hub.messagelog.schema import anchors

    hub = make_hub(tmp_path, trust_store)
    users, tokens = console_users()
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}
    stamped = console_app(hub, {"SECRET_KEY": "test", "SAMPLE_HISTORY": False}, users=users, timestamps_expected=True)
    plain = console_app(hub, {"SECRET_KEY": "test", "SAMPLE_HISTORY": False}, users=users)
    try:
        accept_arrival(hub, "T6000001")
        hub.log.anchor()
        assert "RabtAnchorsUnstamped" not in {name for name, _ in alarms_of(stamped, headers)}  # just taken
        with hub.log.engine.begin() as conn:  # as if the TSA had been away for seven minutes
            conn.execute(sa.update(anchors).values(at=timestamp(dt.datetime.now(dt.timezone.utc)
                                                                - dt.timedelta(minutes=7))))
        time.sleep(1.1)  # one evaluation serves the pages of one second
        alarm = alarms_of(stamped, headers)[("RabtAnchorsUnstamped", "tsa")]
        assert alarm["severity"] == "critical" and alarm["value"] >= 420 and alarm["threshold"] == 360
        assert "RabtAnchorsUnstamped" not in {name for name, _ in alarms_of(plain, headers)}  # no TSA: no news
        scraped = stamped.test_client().get("/metrics", headers=headers).get_data(as_text=True)
        assert "rabt_anchors_unstamped 1.0" in scraped
    finally:
        for app in (stamped, plain):
            app.extensions["rabt_console"].console.broker.close()
        hub.close()
