"""Helpers for the browser tests (a module of its own: ``conftest`` is not importable by name)."""

from __future__ import annotations

from pathlib import Path

from console_support import PASSWORD

ARTIFACTS = Path(__file__).parent / "artifacts"


def login(driver, served, user: str = "operator") -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(served.url + "/login")
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    # The click starts a navigation; on a cold browser the next page can take a moment to arrive.
    who = WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.ID, "who")))
    assert who.text == user


def wait_until(driver, condition, timeout: float = 10):
    """``condition(driver)`` truthy within ``timeout``; elements replaced by a page reload are looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(condition)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), f"screenshot {path} not written"
    assert path.stat().st_size > 10_000  # a real rendered page, not an empty image
    return path


def text_of(driver, selector: str) -> str | None:
    """The text of the first element ``selector`` finds; None when there is none or it was just redrawn."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0].text if found else None
    except StaleElementReferenceException:
        return None
