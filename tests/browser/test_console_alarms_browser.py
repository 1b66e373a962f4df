"""Alarms made to happen for real, seen in headless Chromium: a consumer stopped while its queue
fills, an agency simulator killed under an outbound worker, a partner certificate expiring soon
registered with ``rabt pki``, and one that expires while the page is open; a history chart moving
and the count of what licensing applied rising while messages flow. Each in English and Arabic,
with screenshots under tests/browser/artifacts."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from browser_support import login, screenshot, text_of, wait_until
from console_support import accept_arrival, apply_at_licensing, console_users, deliver_all, make_hub, relay
from werkzeug.serving import make_server

from hub.bootstrap import bootstrap, console_app, worker_parts
from hub.config import Settings
from hub.outbound import OutboundSettings, build_worker
from hub.pki import PkiPaths, cert_pem, init_pki, issue_certificate, load_certificate, load_private_key
from hub.pki import new_private_key
from hub.signing import TrustStore
from hub.transports.testing import isolated_routes
from tests.conftest import TEST_PARTIES

# the outbound tests' simulator and licensing-side asker, reused rather than copied
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from outbound_helpers import Asker, Simulator, canonical  # noqa: E402

try:
    from selenium.webdriver.common.by import By
except ImportError:  # the browser_available fixture then skips, or fails under RABT_REQUIRE_BROKER=1
    By = None

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(120)]


class Live:
    """A hub and its console (sampling every half second) on a free port; the hub's PKI is ``pki``,
    else its own under ``<root>/home`` (where ``rabt pki`` with ``RABT_HOME=<root>/home`` writes)."""

    def __init__(self, root: Path, pki: Path | None = None) -> None:
        self.pki = pki or root / "home" / "pki"
        if pki is None:
            init_pki(self.pki, TEST_PARTIES)
            self.trust_store = TrustStore.load(self.pki)
            self.hub = make_hub(root, self.trust_store)  # the console tests' mappings (accept_arrival)
        else:  # the shipped mappings, which the outbound workers need
            self.trust_store = TrustStore.load(self.pki)
            # quick retries, as the outbound tests use: a failed call is answered with a fault in a second
            self.hub = bootstrap(Settings(home=root / "home", broker_url=f"sqlite:///{root / 'broker.sqlite3'}"),
                                 trust_store=self.trust_store, routes=isolated_routes(delays=(0.2,), max_attempts=2))
        users, _ = console_users()
        self.app = console_app(self.hub, {"SECRET_KEY": "browser-test", "REFRESH_SECONDS": 0.5},
                               users=users, sample_seconds=0.5)
        with self.hub.open_transport() as transport:
            transport.declare(self.hub.routes)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="console", daemon=True)
        self.thread.start()

    def publish(self, count: int, prefix: str) -> None:
        for n in range(count):
            accept_arrival(self.hub, f"{prefix}{n:04d}")
        with self.hub.open_transport() as transport:
            relay(self.hub, transport)

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.app.extensions["rabt_console"].console.broker.close()
        self.hub.close()


@pytest.fixture
def live(tmp_path):
    running = Live(tmp_path)
    yield running
    running.close()


@pytest.fixture
def live_with_simulator_pki(tmp_path, pki_dir):
    """The agency simulators trust the test session's PKI, so this hub signs its calls with it."""
    running = Live(tmp_path, pki_dir)
    yield running
    running.close()


def band_has(driver, name: str, subject: str) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, f'#alarm-list li[data-alarm="{name}"][data-subject="{subject}"]'))


def both_languages(driver, live, name: str, subject: str, shot: str) -> None:
    """The alarm is in the band in English, then in Arabic with Arabic-Indic digits; a screenshot of each."""
    screenshot(driver, f"{shot}-en.png")
    driver.get(live.url + "/?lang=ar&digits=arabic")
    wait_until(driver, lambda d: band_has(d, name, subject))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    # the band is redrawn on every poll: the severity is looked up afresh each time it is read
    severity = f'#alarm-list li[data-alarm="{name}"][data-subject="{subject}"] .severity'
    wait_until(driver, lambda d: text_of(d, severity) in ("حرج", "تحذير"))
    screenshot(driver, f"{shot}-ar.png")
    driver.get(live.url + "/?lang=en&digits=latin")


def test_stopping_the_consumer_raises_the_no_consumer_alarm_live(driver, live):
    stop = threading.Event()
    consumed: list[str] = []

    def consume() -> None:
        with live.hub.open_transport() as transport:
            deliver_all(live.hub, transport, "licensing", seen=consumed, stop=stop, idle_timeout=None)

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    login(driver, live)
    live.publish(3, "C1")
    wait_until(driver, lambda d: len(consumed) == 3, 20)
    assert not band_has(driver, "RabtQueueWithoutConsumer", "licensing")
    stop.set()
    consumer.join(10)
    live.publish(5, "C2")
    # the band updates in place: the overview's poll brings the alarm without a reload
    driver.execute_script("window.rabtMarker = 'same page';")
    wait_until(driver, lambda d: band_has(d, "RabtQueueWithoutConsumer", "licensing"), 20)
    assert driver.execute_script("return window.rabtMarker;") == "same page"
    item = driver.find_element(By.CSS_SELECTOR, '#alarm-list li[data-alarm="RabtQueueWithoutConsumer"]')
    assert "5 messages wait in licensing" in item.text and "Start the consumer" in item.text
    assert "critical" in driver.find_element(By.ID, "alarms").get_attribute("class")
    both_languages(driver, live, "RabtQueueWithoutConsumer", "licensing", "alarm-no-consumer")


def test_killing_the_agency_simulator_opens_the_circuit_alarm(driver, live_with_simulator_pki):
    live = live_with_simulator_pki
    police = Simulator("police")
    settings = OutboundSettings(endpoints={"RABT_POLICE_CIVIL_REGISTRY_URL": police.url("civil-registry"),
                                           "RABT_POLICE_TRANSFER_URL": police.url("transfer")},
                                reply_window=0.5, call_timeout=2.0, attempts=2, backoff=0.01,
                                breaker_failures=3, breaker_reset=60.0)
    worker = build_worker(worker_parts(live.hub), live.hub.adapters["police"], settings)
    stop = threading.Event()

    def run() -> None:
        with live.hub.open_transport() as transport:
            worker.run(transport, live.hub.routes.queue_for("police"), stop=stop)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        with live.hub.open_transport() as transport:
            asker = Asker(live.pki, live.trust_store, transport)
            citizen = police.population.find_citizen(marital_status="married")
            _, answer, _ = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
            assert answer.message_type == "CivilStatusRecord"
            login(driver, live)
            assert not band_has(driver, "RabtCircuitOpen", "police")
            police.close()  # the agency's service is gone: connections are refused
            for _ in range(2):
                _, fault, _ = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
                assert fault.message_type == "Fault"
        wait_until(driver, lambda d: band_has(d, "RabtCircuitOpen", "police"), 20)
        cell = driver.find_element(By.CSS_SELECTOR, 'tr[data-adapter="police"] td.circuit')
        assert cell.text == "OPEN" and "open" in cell.get_attribute("class")
        both_languages(driver, live, "RabtCircuitOpen", "police", "alarm-circuit-open")
    finally:
        stop.set()
        thread.join(10)
        worker.close()
        if police.thread.is_alive():
            police.close()


def test_a_certificate_registered_with_rabt_pki_expiring_soon_is_an_alarm(driver, live, tmp_path):
    paths = PkiPaths(live.pki)
    ca, ca_key = load_certificate(paths.ca_cert), load_private_key(paths.ca_key)
    short = issue_certificate("courts", new_private_key("ec"), ca, ca_key, days=12)
    pem = tmp_path / "courts-renewed.pem"
    pem.write_bytes(cert_pem(short))
    serial = format(short.serial_number, "x")
    login(driver, live)
    assert not band_has(driver, "RabtCertificateExpiring", f"courts {serial}")
    env = {**os.environ, "RABT_HOME": str(live.pki.parent)}
    result = subprocess.run([sys.executable, "-m", "hub", "pki", "register", "courts", str(pem), "--replace"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # the running hub's trust store follows its files (checked at most every 5 s on use)
    wait_until(driver, lambda d: band_has(d, "RabtCertificateExpiring", f"courts {serial}"), 30)
    # the band is redrawn on every poll: each read looks the item up again
    item = '#alarm-list li[data-alarm="RabtCertificateExpiring"]'
    wait_until(driver, lambda d: "expires in 11 days" in d.find_element(By.CSS_SELECTOR, item).text)
    wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"{item} a").get_attribute("href")
               .endswith("/#certificates"))
    both_languages(driver, live, "RabtCertificateExpiring", f"courts {serial}", "alarm-certificate")


def test_a_certificate_expiring_while_watched_becomes_the_expired_alarm_live(driver, live, tmp_path):
    paths = PkiPaths(live.pki)
    ca, ca_key = load_certificate(paths.ca_cert), load_private_key(paths.ca_key)
    # valid for one day, of which 30 seconds are left: registered now, it expires while the page is open
    ends = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    short = issue_certificate("courts", new_private_key("ec"), ca, ca_key, days=1,
                              not_before=ends - dt.timedelta(days=1))
    pem = tmp_path / "courts-short.pem"
    pem.write_bytes(cert_pem(short))
    serial = format(short.serial_number, "x")
    env = {**os.environ, "RABT_HOME": str(live.pki.parent)}
    result = subprocess.run([sys.executable, "-m", "hub", "pki", "register", "courts", str(pem), "--replace"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    login(driver, live)
    row = f'tr.certificate[data-party="courts"][data-serial="{serial}"]'
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, row), 20)
    assert dt.datetime.now(dt.timezone.utc) < ends
    assert not band_has(driver, "RabtCertificateExpired", f"courts {serial}")
    driver.execute_script("window.rabtMarker = 'same page';")
    wait_until(driver, lambda d: band_has(d, "RabtCertificateExpired", f"courts {serial}"), 60)
    # the certificates table follows without a reload
    wait_until(driver, lambda d: "expired" in d.find_element(By.CSS_SELECTOR, row).get_attribute("class"), 10)
    wait_until(driver, lambda d: text_of(d, f"{row} td.state") == "EXPIRED")  # redrawn each poll: read afresh
    assert driver.execute_script("return window.rabtMarker;") == "same page"
    assert "critical" in driver.find_element(By.ID, "alarms").get_attribute("class")
    driver.execute_script("document.getElementById('certificates').scrollIntoView()")
    both_languages(driver, live, "RabtCertificateExpired", f"courts {serial}", "alarm-certificate-expired")


def applied_shown(driver) -> str | None:
    return text_of(driver, 'tr[data-adapter="licensing"] td.applied')


def test_the_overview_counts_what_licensing_applies_while_messages_flow(driver, live, tmp_path):
    login(driver, live)
    driver.execute_script("window.rabtMarker = 'same page';")
    for batch in range(1, 4):
        live.publish(4, f"A{batch}")
        wait_until(driver, lambda d: text_of(d, 'tr[data-queue="licensing"] td.ready') == "4", 20)
        with live.hub.open_transport() as transport:
            assert apply_at_licensing(live.hub, transport, tmp_path / "licensing", live.pki) == 4
        # licensing's receipts came back through the hub: the count rises, the queue empties, no reload
        wait_until(driver, lambda d: applied_shown(d) == str(4 * batch), 20)
        wait_until(driver, lambda d: text_of(d, 'tr[data-queue="licensing"] td.ready') == "0", 20)
    assert driver.execute_script("return window.rabtMarker;") == "same page"
    # the table is redrawn each poll, so one read can fall between its old and new rows: read until it settles
    wait_until(driver, lambda d: text_of(d, 'tr[data-adapter="licensing"] td.failed_at_consumer') == "0", 10)
    driver.execute_script("document.getElementById('adapters-table').scrollIntoView()")
    screenshot(driver, "applied-en.png")
    driver.get(live.url + "/?lang=ar&digits=arabic")
    wait_until(driver, lambda d: applied_shown(d) == "١٢", 20)
    driver.execute_script("document.getElementById('adapters-table').scrollIntoView()")
    screenshot(driver, "applied-ar.png")
    driver.get(live.url + "/?lang=en&digits=latin")


def depth_shown(driver) -> str | None:
    items = driver.find_elements(By.CSS_SELECTOR, 'figure.chart[data-name="licensing"] li.current.depth')
    try:
        return items[0].text if items else None
    except Exception:  # noqa: BLE001 - the chart is being redrawn under us
        return None


def test_the_licensing_chart_moves_while_messages_flow(driver, live):
    login(driver, live)
    wait_until(driver, lambda d: depth_shown(d) is not None, 20)
    seen, lines = [depth_shown(driver)], set()
    for batch in range(4):
        live.publish(6, f"H{batch}")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and depth_shown(driver) == seen[-1]:
            time.sleep(0.2)
        seen.append(depth_shown(driver))
        # looked up again should the page redraw the chart between the lookup and the read
        lines.add(wait_until(driver, lambda d: d.find_element(
            By.CSS_SELECTOR, 'figure.chart[data-name="licensing"] polyline.depth').get_attribute("points")))
    assert seen[-1].endswith(": 24"), seen
    assert len(set(seen)) >= 4, f"the chart's depth did not move with each batch: {seen}"
    assert len(lines) >= 3  # the drawn line changed too
    assert wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-queue="licensing"] td.ready').text
                      == "24")
    # the latency table follows too: the 24 arrivals, receipt to broker confirm, against police's 5 s target
    row = wait_until(driver, lambda d: [r for r in d.find_elements(
        By.CSS_SELECTOR, 'tr.latency[data-agency="police"][data-operation="WorkerArrival"]')
        if r.find_elements(By.CSS_SELECTOR, "td")[2].text == "24"], 20)[0]
    assert row.find_element(By.CSS_SELECTOR, "td.slo").text == "met"
    driver.execute_script("document.getElementById('history-title').scrollIntoView()")
    screenshot(driver, "chart-en.png")
    driver.find_element(By.CSS_SELECTOR, 'button.span[data-span="day"]').click()  # the day, at 15-minute points
    wait_until(driver, lambda d: d.find_element(By.CSS_SELECTOR, 'button.span[data-span="day"]')
               .get_attribute("aria-pressed") == "true")
    wait_until(driver, lambda d: (depth_shown(d) or "").endswith(": 24"))
    driver.get(live.url + "/?lang=ar&digits=arabic")
    wait_until(driver, lambda d: (depth_shown(d) or "").endswith("٢٤"), 20)
    assert depth_shown(driver).startswith("العمق")
    driver.execute_script("document.getElementById('history-title').scrollIntoView()")
    screenshot(driver, "chart-ar.png")
    driver.get(live.url + "/?lang=en&digits=latin")
