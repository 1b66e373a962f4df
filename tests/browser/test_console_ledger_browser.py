"""An operator looks up a worker's disclosure ledger in Chromium, in English and in Arabic:
the table lists the messages about them with the legal basis, each linking to its trail."""

from __future__ import annotations

import pytest
from browser_support import login, screenshot, wait_until
from console_support import accept_arrival, accept_renewal

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:  # the browser_available fixture then skips, or fails under RABT_REQUIRE_BROKER=1
    By = Keys = None

pytestmark = pytest.mark.timeout(120)
WORKER = "120339849"


def look_up(driver, served, lang: str) -> list:
    driver.get(served.url + f"/ledger?lang={lang}")
    box = driver.find_element(By.ID, "civil")
    box.send_keys(WORKER)
    box.send_keys(Keys.ENTER)
    wait_until(driver, lambda d: "civil=" in d.current_url)
    return driver.find_elements(By.CSS_SELECTOR, "tr.ledger-entry")


def test_an_operator_reads_a_workers_ledger_in_english_and_arabic(driver, served):
    accept_arrival(served.hub, "T7770009")  # someone else, by passport only
    wanted = accept_renewal(served.hub, WORKER)
    login(driver, served, "operator")
    driver.get(served.url + "/")
    driver.find_element(By.ID, "nav-ledger").click()
    wait_until(driver, lambda d: d.current_url.endswith("/ledger"))
    rows = look_up(driver, served, "en")
    assert [row.get_attribute("data-message-id") for row in rows] == [wanted]
    assert "Foreigners' Residence Law, art. 17" in rows[0].find_element(By.CSS_SELECTOR, "td.basis").text
    screenshot(driver, "ledger-en.png")

    rows = look_up(driver, served, "ar")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert driver.find_element(By.TAG_NAME, "h2").text == "سجل الإفصاح"
    assert driver.find_elements(By.CSS_SELECTOR, "#ledger-consultations tbody tr")  # the English look-up
    screenshot(driver, "ledger-ar.png")
    rows[0].find_element(By.CSS_SELECTOR, "a.trail-link").click()
    wait_until(driver, lambda d: "/trail" in d.current_url)
    found = driver.find_elements(By.CSS_SELECTOR, "article.message")
    assert [article.get_attribute("data-message-id") for article in found] == [wanted]


def test_a_viewer_has_no_ledger_link_and_is_refused_the_page(driver, served):
    login(driver, served, "viewer")
    driver.get(served.url + "/")
    assert not driver.find_elements(By.ID, "nav-ledger")
    driver.get(served.url + "/ledger")
    assert "forbidden" in driver.page_source
