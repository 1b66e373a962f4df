"""Operator actions and the whole trail in a real headless Chromium, in English and Arabic.

A message is dead-lettered, replayed by a click and then delivered: its trail
shows every hop with the operator's name. Each action (filtered replay,
discard, purge with its confirmation, peek) leaves its record in the message
log's hash chain, shown on the actions page.
"""

from __future__ import annotations

import pytest
from browser_support import login, screenshot, wait_until
from console_support import accept_arrival, accept_renewal, dead_letter_all, deliver_all, relay

try:
    from selenium.webdriver.common.by import By
except ImportError:  # the browser_available fixture then skips, or fails under RABT_REQUIRE_BROKER=1
    By = None

pytestmark = pytest.mark.timeout(120)


def hops(driver, message_id: str) -> list[str]:
    article = driver.find_element(By.CSS_SELECTOR, f'article.message[data-message-id="{message_id}"]')
    return [row.get_attribute("data-status") for row in article.find_elements(By.CSS_SELECTOR, "tr.hop")]


def test_the_whole_trail_of_a_message_dead_lettered_and_replayed(driver, served):
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
        assert deliver_all(hub, transport, "licensing") == 1
    driver.get(f"{served.url}/trail?q={arrival}")
    assert hops(driver, arrival) == ["received", "published", "dead-lettered", "replayed", "delivered"]
    article = driver.find_element(By.CSS_SELECTOR, f'article.message[data-message-id="{arrival}"]')
    replayed = article.find_element(By.CSS_SELECTOR, 'tr.hop[data-status="replayed"]').text
    assert "operator" in replayed and "put back on licensing" in replayed
    assert "[input] licensing refused the record" in article.find_element(
        By.CSS_SELECTOR, 'tr.hop[data-status="dead-lettered"]').text
    screenshot(driver, "trail-replayed-en.png")
    driver.get(f"{served.url}/trail?q={arrival}&lang=ar")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert hops(driver, arrival)[-2:] == ["replayed", "delivered"]
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
