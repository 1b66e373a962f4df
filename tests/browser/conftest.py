"""Real-browser fixtures: Debian's chromium + chromedriver driven by selenium, the
console served by werkzeug on 127.0.0.1:<free port> in a thread.

A missing browser skips these tests, except under RABT_REQUIRE_BROKER=1 (CI),
where it fails them: CI must install ``chromium chromium-driver`` (apt) and
``selenium`` (pip).
"""

from __future__ import annotations

import shutil
import threading

import pytest

from tests.conftest import unavailable
from console_support import console_users, make_hub
from werkzeug.serving import make_server

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--lang=en-US"]


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401 - only whether it is there
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for program in ("chromium", "chromedriver"):
        if shutil.which(program) is None:
            return f"{program} is not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="session")
def browser_available() -> None:
    problem = _missing_browser()
    if problem:
        unavailable(problem)


@pytest.fixture(scope="module")
def browser(browser_available, tmp_path_factory):
    """One Chromium per test module: starting it is the slowest step of a browser test."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    for argument in CHROMIUM_ARGS + [f"--user-data-dir={profile}"]:
        options.add_argument(argument)
    started = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    started.set_page_load_timeout(20)
    yield started
    started.quit()


@pytest.fixture
def driver(browser):
    """The module's browser, on a blank page without the previous test's cookies (each test logs in)."""
    browser.get("about:blank")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})  # every host's, not only the blank page's
    return browser


class Served:
    """The console app of a real hub, listening on a free loopback port."""

    def __init__(self, hub, app) -> None:
        self.hub, self.app = hub, app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="console", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.app.extensions["rabt_console"].console.broker.close()
        self.hub.close()


@pytest.fixture
def served(tmp_path, trust_store):
    from hub.bootstrap import console_app

    hub = make_hub(tmp_path, trust_store)
    users, _ = console_users()
    app = console_app(hub, {"SECRET_KEY": "browser-test", "REFRESH_SECONDS": 0.5}, users=users)
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
    running = Served(hub, app)
    yield running
    running.close()
