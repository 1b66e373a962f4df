"""An operator types a worker's Arabic name into the trail's search box in Chromium,
with another alef form and diacritics than the agency sent, and finds the message;
a name the log does not hold says so and names what was searched."""

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


def search(driver, served, typed: str) -> None:
    driver.get(served.url + "/trail?lang=ar")
    box = driver.find_element(By.ID, "q")
    box.send_keys(typed)
    box.send_keys(Keys.ENTER)
    wait_until(driver, lambda d: "q=" in d.current_url)


def test_an_arabic_name_typed_differently_finds_the_worker(driver, served):
    accept_arrival(served.hub, "T7770001")  # راجيش كومار ناير, someone else
    wanted = accept_renewal(served.hub, "120339848", name_ar="عمران خان آفريدي")
    login(driver, served, "viewer")
    search(driver, served, "اِفْرِيدي  عمران")  # alef without madda, kasra and sukun, other word order
    found = driver.find_elements(By.CSS_SELECTOR, "article.message")
    assert [article.get_attribute("data-message-id") for article in found] == [wanted]
    assert "عمران خان آفريدي" in found[0].find_element(By.CSS_SELECTOR, 'bdi.name[lang="ar"]').text
    screenshot(driver, "trail-search-arabic-name.png")


def test_a_name_not_in_the_log_says_what_was_searched(driver, served):
    accept_arrival(served.hub, "T7770002")
    login(driver, served, "viewer")
    search(driver, served, "زَيْد")
    assert "زَيْد" in driver.find_element(By.ID, "no-match").text
    searched = driver.find_element(By.ID, "searched").text
    assert "أسماء العمال" in searched and "زيد" in searched
    assert not driver.find_elements(By.CSS_SELECTOR, "article.message")
    screenshot(driver, "trail-search-no-match-ar.png")
