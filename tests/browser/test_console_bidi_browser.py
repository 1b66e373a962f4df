"""A U+202E RIGHT-TO-LEFT OVERRIDE in agency data, as a real Chromium lays it out:
the text after it is not reversed, in the names nor in the raw payload dump."""

from __future__ import annotations

import pytest
from browser_support import login, screenshot
from console_support import accept_arrival

try:
    from selenium.webdriver.common.by import By
except ImportError:  # the browser_available fixture then skips, or fails under RABT_REQUIRE_BROKER=1
    By = None

pytestmark = pytest.mark.timeout(120)
#: "gnp.exe" that an acting override would show as "exe.png"
HOSTILE_NAME = "Rajesh \u202egnp.exe"
#: the left edge of the first occurrence of ``arguments[1]`` in ``arguments[0]``, as laid out on screen
LEFT_OF = """
const walker = document.createTreeWalker(arguments[0], NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const at = node.data.indexOf(arguments[1]);
  if (at >= 0) {
    const range = document.createRange(); range.setStart(node, at); range.setEnd(node, at + arguments[1].length);
    return range.getBoundingClientRect().left;
  }
}
return null;"""


def left_of(driver, element, text: str) -> float:
    left = driver.execute_script(LEFT_OF, element, text)
    assert left is not None, f"{text!r} not shown in {element.tag_name}"
    return left


def test_an_override_in_agency_text_reverses_nothing_on_screen(driver, served):
    message_id = accept_arrival(served.hub, "T8880001", name_en=HOSTILE_NAME)
    login(driver, served, "viewer")
    driver.get(served.url + f"/trail?q={message_id}")
    name = driver.find_element(By.CSS_SELECTOR, 'bdi.name[lang="en"]')
    assert name.text == "Rajesh [U+202E]gnp.exe"
    assert left_of(driver, name, "Rajesh") < left_of(driver, name, "gnp") < left_of(driver, name, "exe")
    driver.find_element(By.CSS_SELECTOR, "article.message details summary").click()
    raw = driver.find_element(By.CSS_SELECTOR, "article.message details[open] pre")
    # the whole line reads in the order received, the closing tag after the name included
    assert (left_of(driver, raw, "<b:NameEn>") < left_of(driver, raw, "gnp") < left_of(driver, raw, "exe")
            < left_of(driver, raw, "</b:NameEn>"))
    screenshot(driver, "trail-override-isolated.png")
