"""Operator actions and the whole trail in a real headless Chromium, in English and Arabic.

A message is dead-lettered, replayed by a click and then applied by the real
licensing consumer, whose delivery receipt comes back through the hub: its
trail shows every hop, the operator's name and licensing's "applied". Each
action (filtered replay, discard, purge with its confirmation, peek, pause,
resume, circuit reset) leaves its record in the message log's hash chain,
shown on the actions page; pause, resume and reset are picked up by a real
``rabt worker`` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import login, screenshot, text_of, wait_until
from console_support import accept_arrival, accept_renewal, apply_at_licensing, dead_letter_all, relay

from hub import lifeline
from hub.messagelog.controls import ControlBoard

try:
    from selenium.webdriver.common.by import By
except ImportError:  # the browser_available fixture then skips, or fails under RABT_REQUIRE_BROKER=1
    By = None

pytestmark = pytest.mark.timeout(120)


def hops(driver, message_id: str) -> list[str]:
    article = driver.find_element(By.CSS_SELECTOR, f'article.message[data-message-id="{message_id}"]')
    return [row.get_attribute("data-status") for row in article.find_elements(By.CSS_SELECTOR, "tr.hop")]


def test_the_whole_trail_of_a_message_dead_lettered_and_replayed(driver, served, tmp_path, pki_dir):
    hub = served.hub
    arrival = accept_arrival(hub, "T7770001")
    with hub.open_transport() as transport:
        relay(hub, transport)
        assert dead_letter_all(hub, transport, "licensing") == 1
    login(driver, served)
    driver.get(served.url + "/dead-letters")
    driver.find_element(By.CSS_SELECTOR, f'tr.dead-letter[data-message-id="{arrival}"] button.replay-one').click()
    wait_until(driver, lambda d: d.find_element(By.ID, "dead-count").text == "0")
    with hub.open_transport() as transport:
        assert apply_at_licensing(hub, transport, tmp_path / "licensing", pki_dir) == 1
    driver.get(f"{served.url}/trail?q={arrival}")
    assert hops(driver, arrival) == ["received", "published", "dead-lettered", "replayed", "applied"]
    article = driver.find_element(By.CSS_SELECTOR, f'article.message[data-message-id="{arrival}"]')
    replayed = article.find_element(By.CSS_SELECTOR, 'tr.hop[data-status="replayed"]').text
    assert "operator" in replayed and "put back on licensing" in replayed
    assert "[input] licensing refused the record" in article.find_element(
        By.CSS_SELECTOR, 'tr.hop[data-status="dead-lettered"]').text
    assert "licensing applied it (receipt " in article.find_element(By.CSS_SELECTOR, 'tr.hop[data-status="applied"]').text
    screenshot(driver, "trail-replayed-en.png")
    driver.get(f"{served.url}/trail?q={arrival}&lang=ar")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert hops(driver, arrival)[-2:] == ["replayed", "applied"]
    screenshot(driver, "trail-replayed-ar.png")


def _letters(driver) -> list[str]:
    return [r.get_attribute("data-message-id") for r in driver.find_elements(By.CSS_SELECTOR, "tr.dead-letter")]


def test_each_operator_action_leaves_its_record_in_the_chain(driver, served):
    hub = served.hub
    arrivals = [accept_arrival(hub, f"T88800{n}") for n in range(3)]
    renewal = accept_renewal(hub, "120339847")
    with hub.open_transport() as transport:
        relay(hub, transport)
        assert dead_letter_all(hub, transport, "licensing") == 4
    login(driver, served, "admin")

    driver.get(served.url + "/dead-letters?type=WorkerArrival")
    assert sorted(_letters(driver)) == sorted(arrivals)
    driver.find_element(By.ID, "replay-matching").click()
    wait_until(driver, lambda d: d.find_element(By.ID, "dead-count").text == "1")
    assert _letters(driver) == [renewal]

    driver.get(served.url + "/queues/licensing/peek")
    assert driver.find_element(By.ID, "peek-depth").text == "3"
    assert {r.get_attribute("data-message-id") for r in driver.find_elements(By.CSS_SELECTOR, "tr.peeked")} \
        == set(arrivals)
    screenshot(driver, "peek-en.png")
    # the peek page follows the queue without a reload
    driver.execute_script("window.rabtMarker = 'same page';")
    one_more = accept_arrival(hub, "T8880099")
    with hub.open_transport() as transport:
        relay(hub, transport)
    wait_until(driver, lambda d: d.find_element(By.ID, "peek-depth").text == "4", 20)
    wait_until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr.peeked[data-message-id="{one_more}"]'))
    assert driver.execute_script("return window.rabtMarker;") == "same page"

    driver.get(served.url + "/dead-letters")
    driver.find_element(By.ID, "purge-confirm").send_keys("yes")
    driver.find_element(By.ID, "purge").click()
    wait_until(driver, lambda d: "confirm by typing" in d.find_element(By.TAG_NAME, "body").text)
    assert _letters(driver) == [renewal]  # a wrong confirmation purges nothing
    driver.find_element(By.ID, "purge-confirm").send_keys("licensing")
    driver.find_element(By.ID, "purge").click()
    wait_until(driver, lambda d: d.find_elements(By.ID, "no-dead-letters"))

    driver.get(served.url + "/actions")
    chained = driver.find_elements(By.CSS_SELECTOR, "#chained-actions tr.chained")
    actions = [(row.get_attribute("data-action"), row.get_attribute("data-message-id")) for row in chained]
    assert actions[0] == ("purged", "") and actions[1] == ("discarded", renewal)
    assert sorted(mid for action, mid in actions if action == "replayed") == sorted(arrivals)
    assert all("admin" in row.text for row in chained)
    screenshot(driver, "actions-chained-en.png")
    driver.get(served.url + "/actions?lang=ar")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chained-actions tr.chained")) == len(chained)
    screenshot(driver, "actions-chained-ar.png")
    assert hub.log.verify_chain().ok


# ------------------------------------------------------- pause, resume, reset: a real worker process


@pytest.fixture
def commerce_worker(served, pki_dir, tmp_path):
    """``rabt worker commerce`` as a process of its own on the served hub's home, broker and database,
    calling the commerce simulator over HTTP; its output in ``worker.log``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    from outbound_helpers import Simulator

    settings = served.hub.settings
    if not (settings.home / "pki").exists():
        (settings.home / "pki").symlink_to(pki_dir)
    commerce = Simulator("commerce")
    env = {**os.environ, "RABT_HOME": str(settings.home), "RABT_BROKER_URL": settings.effective_broker_url,
           "RABT_DATABASE_URL": settings.effective_database_url,
           "RABT_COMMERCE_REGISTRY_URL": commerce.url("commercial-registry"),
           "RABT_COMMERCE_CHAMBER_URL": commerce.url("chamber-membership")}
    with open(tmp_path / "worker.log", "wb") as output:
        process = lifeline.popen([sys.executable, "-m", "hub", "worker", "commerce"], env=env,
                                 stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(30)
            commerce.close()


def reset_applied(served):
    """On the actions page: when and by which process the newest reset of commerce was applied, once it was."""
    def applied(driver) -> str | None:
        driver.get(served.url + "/actions")
        return text_of(driver, '#commands tr.command[data-command="reset"][data-destination="commerce"] td.applied')
    return applied


def test_pause_resume_and_reset_are_clicked_and_a_worker_process_obeys(driver, served, commerce_worker):
    login(driver, served, "admin")
    consumers, row = 'tr[data-queue="commerce"] td.consumers', 'tr.consumption[data-destination="commerce"]'
    wait_until(driver, lambda d: text_of(d, consumers) == "1", 60)  # the worker process is consuming
    assert not driver.find_elements(By.CSS_SELECTOR, 'tr.consumption[data-destination="hub"]')  # bookkeeping only
    driver.find_element(By.CSS_SELECTOR, f"{row} button.pause").click()
    wait_until(driver, lambda d: "paused" in d.find_element(By.CSS_SELECTOR, row).get_attribute("class"))
    assert "Paused by admin" in text_of(driver, f"{row} td.state")
    driver.execute_script("window.rabtMarker = 'same page';")
    # the worker process reads the command and ends its subscription; the overview shows it without a reload
    wait_until(driver, lambda d: text_of(d, consumers) == "0", 20)
    wait_until(driver, lambda d: d.find_elements(
        By.CSS_SELECTOR, '#alarm-list li[data-alarm="RabtConsumptionPaused"][data-subject="commerce"]'))
    assert driver.execute_script("return window.rabtMarker;") == "same page"
    driver.execute_script("document.getElementById('consumption').scrollIntoView()")
    screenshot(driver, "consumption-paused-en.png")

    driver.find_element(By.CSS_SELECTOR, f"{row} button.resume").click()
    wait_until(driver, lambda d: "consuming" in d.find_element(By.CSS_SELECTOR, row).get_attribute("class"))
    wait_until(driver, lambda d: text_of(d, consumers) == "1", 20)
    driver.find_element(By.CSS_SELECTOR, f"{row} button.reset-circuit").click()
    # the click navigates: the resume's flash may still be on screen for a moment
    wait_until(driver, lambda d: "reset-circuit commerce: command" in (text_of(d, ".flashes") or ""))
    applied = wait_until(driver, reset_applied(served), 20)
    assert applied.endswith(f":{commerce_worker.pid}")  # the worker process marked it done, not the console
    driver.get(served.url + "/audit")
    driver.find_element(By.ID, "verify-chain").click()
    result = wait_until(driver, lambda d: d.find_element(By.ID, "chain-result"))
    assert result.get_attribute("class") == "ok"
    driver.get(served.url + "/actions")
    logged = [(r.get_attribute("data-action"), r.get_attribute("data-outcome"))
              for r in driver.find_elements(By.CSS_SELECTOR, "#console-actions tr.action")]
    assert logged[:4] == [("verify-chain", "ok"), ("reset-circuit", "ok"), ("resume", "ok"), ("pause", "ok")]

    chained = driver.find_elements(By.CSS_SELECTOR, "#chained-actions tr.chained")
    assert [r.get_attribute("data-action") for r in chained[:3]] == ["reset-circuit", "resume", "pause"]
    assert all("admin" in r.text and "commerce" in r.text for r in chained[:3])
    commands = driver.find_elements(By.CSS_SELECTOR, '#commands tr.command[data-destination="commerce"]')
    assert [c.get_attribute("data-command") for c in commands] == ["reset", "resume", "pause"]
    screenshot(driver, "operator-actions-en.png")
    driver.get(served.url + "/actions?lang=ar")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert text_of(driver, '#commands tr.command[data-command="reset"] td.applied').endswith(f":{commerce_worker.pid}")
    screenshot(driver, "operator-actions-ar.png")
    driver.get(served.url + "/?lang=ar")
    driver.execute_script("document.getElementById('consumption').scrollIntoView()")
    screenshot(driver, "consumption-ar.png")
    # a pause written by another console process shows here without a reload
    driver.get(served.url + "/?lang=en")
    driver.execute_script("window.rabtMarker = 'same page';")
    ControlBoard(served.hub.log.engine).issue("pause", "commerce", "amal")
    wait_until(driver, lambda d: "Paused by amal" in (text_of(d, f"{row} td.state") or ""), 20)
    assert driver.find_elements(By.CSS_SELECTOR, f"{row} button.resume")
    wait_until(driver, lambda d: text_of(d, consumers) == "0", 20)
    assert driver.execute_script("return window.rabtMarker;") == "same page"
    assert served.hub.log.verify_chain().ok
