"""The console in a real headless Chromium: live depths, a click replays a dead
letter, Arabic names read right-to-left, screenshots for a person to look at."""

from __future__ import annotations

import threading
import time

import pytest
from browser_support import login, screenshot, wait_until
from console_support import accept_arrival, accept_renewal, dead_letter_all, deliver_all, relay

try:
    from selenium.webdriver.common.by import By
except ImportError:  # the browser_available fixture then skips, or fails under RABT_REQUIRE_BROKER=1
    By = None

pytestmark = pytest.mark.timeout(120)


def ready_count(driver) -> int | None:
    cells = driver.find_elements(By.CSS_SELECTOR, 'tr[data-queue="licensing"] td.ready')
    try:
        return int(cells[0].text) if cells else None
    except (ValueError, Exception):  # the row is being replaced under us
        return None


def test_overview_shows_depths_changing_while_messages_flow(driver, served):
    login(driver, served)
    driver.execute_script("window.rabtMarker = 'same page';")
    assert ready_count(driver) == 0
    batches, per_batch, done = 5, 8, threading.Event()

    def publish() -> None:
        with served.hub.open_transport() as transport:
            for batch in range(batches):
                for n in range(per_batch):
                    accept_arrival(served.hub, f"L{batch:02d}{n:04d}")
                relay(served.hub, transport)
                time.sleep(0.8)
        done.set()

    worker = threading.Thread(target=publish)
    worker.start()
    seen = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and (not done.is_set() or seen[-1:] != [batches * per_batch]):
        value = ready_count(driver)
        if value is not None and (not seen or value != seen[-1]):
            seen.append(value)
        time.sleep(0.1)
    worker.join()
    assert seen[-1] == batches * per_batch, seen
    assert len([v for v in seen if 0 < v < batches * per_batch]) >= 2, f"no intermediate depths seen: {seen}"
    assert seen == sorted(seen)
    # the numbers changed in place: the page was never reloaded
    assert driver.execute_script("return window.rabtMarker;") == "same page"
    assert driver.find_element(By.ID, "outbox-backlog").text == "0"
    screenshot(driver, "overview-en.png")


def test_a_click_replays_a_dead_letter_which_is_then_delivered(driver, served):
    hub = served.hub
    wanted = accept_arrival(hub, "T5550001")
    other = accept_renewal(hub, "120339847")
    with hub.open_transport() as transport:
        relay(hub, transport)
        assert dead_letter_all(hub, transport, "licensing") == 2
    login(driver, served)
    driver.get(served.url + "/dead-letters")
    rows = driver.find_elements(By.CSS_SELECTOR, "tr.dead-letter")
    assert {r.get_attribute("data-message-id") for r in rows} == {wanted, other}
    screenshot(driver, "dead-letters-before.png")
    row = driver.find_element(By.CSS_SELECTOR, f'tr.dead-letter[data-message-id="{wanted}"]')
    row.find_element(By.CSS_SELECTOR, "button.replay-one").click()
    # the replay reloads the page, so the counter element is replaced under the wait
    wait_until(driver, lambda d: d.find_element(By.ID, "dead-count").text == "1")
    remaining = [r.get_attribute("data-message-id") for r in driver.find_elements(By.CSS_SELECTOR, "tr.dead-letter")]
    assert remaining == [other]
    assert "ok" in driver.find_element(By.CSS_SELECTOR, "ul.flashes li.ok").text
    seen: list[str] = []
    with hub.open_transport() as transport:
        assert deliver_all(hub, transport, "licensing", seen) == 1
    assert seen == [wanted]
    assert [(e.status, e.actor) for e in hub.log.events(wanted)][-2:] == [("replayed", "operator"), ("delivered", None)]
    driver.get(served.url + f"/trail?q={wanted}")
    statuses = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "table.events tbody tr td:nth-child(2)")]
    assert statuses == ["received", "published", "dead-lettered", "replayed", "delivered"]


def test_arabic_names_render_right_to_left(driver, served):
    accept_renewal(served.hub, "120339847")
    login(driver, served, "viewer")
    driver.get(served.url + "/trail?q=120339847")
    direction = "return getComputedStyle(arguments[0]).direction;"
    arabic = driver.find_element(By.CSS_SELECTOR, 'bdi.name[lang="ar"]')
    english = driver.find_element(By.CSS_SELECTOR, 'bdi.name[lang="en"]')
    assert arabic.text == "عمران خان آفريدي"
    # on an English page, the Arabic name is still laid out right to left, the English one left to right
    assert driver.execute_script(direction, driver.find_element(By.TAG_NAME, "html")) == "ltr"
    assert driver.execute_script(direction, arabic) == "rtl"
    assert driver.execute_script(direction, english) == "ltr"
    driver.find_element(By.ID, "lang-switch").click()
    wait_until(driver, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ar")
    assert driver.execute_script(direction, driver.find_element(By.TAG_NAME, "main")) == "rtl"
    assert driver.find_element(By.TAG_NAME, "h2").text == "مسار الرسالة"
    english = driver.find_element(By.CSS_SELECTOR, 'bdi.name[lang="en"]')
    assert driver.execute_script(direction, english) == "ltr"  # the Latin name stays left to right
    # in a right-to-left page a short heading's text sits at the right edge
    left = driver.execute_script("const r = document.createRange(); r.selectNodeContents(arguments[0]);"
                                 "return r.getBoundingClientRect().left;", driver.find_element(By.TAG_NAME, "h2"))
    assert left > driver.execute_script("return window.innerWidth;") / 2
    screenshot(driver, "trail-ar.png")


def test_anonymous_browser_is_sent_to_login(driver, served):
    driver.get(served.url + "/dead-letters")
    assert driver.current_url.startswith(served.url + "/login")
    driver.find_element(By.ID, "username").send_keys("viewer")
    driver.find_element(By.ID, "password").send_keys("wrong password")
    driver.find_element(By.ID, "login").click()
    # the click starts a navigation (as in login()): wait for the answer page, not the form still shown
    refused = wait_until(driver, lambda d: d.find_elements(By.ID, "login-failed"), timeout=20)
    assert refused[0].is_displayed()
    assert driver.current_url.startswith(served.url + "/login") and not driver.find_elements(By.ID, "who")
