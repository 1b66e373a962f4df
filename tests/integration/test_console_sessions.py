"""Console sessions as a hostile user tries them: cookie flags, a cookie copied
before logout, password and role changes, idle and absolute limits, concurrent
password guesses, and agency text carrying U+202E — on a real hub and app."""

from __future__ import annotations

import re
import threading
import time

import pytest
from click.testing import CliRunner

from console_support import PASSWORD, accept_arrival, console_users, dead_letter_all, make_hub, relay
from hub.cli import main
from hub.bootstrap import console_app
from hub.console.sessions import IDLE_SECONDS, MAX_SECONDS, SESSIONS_FILE_NAME
from hub.console.users import Users
from werkzeug.security import generate_password_hash

RLO = "\u202e"
#: an agency name whose override would flip the rest of the line: "gnp.exe" shown as "exe.png"
HOSTILE_NAME = f"Rajesh {RLO}gnp.exe"


@pytest.fixture
def console(tmp_path, trust_store):
    hub = make_hub(tmp_path, trust_store)
    users, _tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users)
    yield app, hub
    app.extensions["rabt_console"].console.broker.close()
    hub.close()


def login(client, user: str, password: str = PASSWORD):
    page = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token})


def csrf_of(client) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").data.decode()).group(1)


def copy_of(client, app):
    """A second client holding the same session cookie: what a thief copies out of the browser."""
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    return thief


def logged_in(client) -> bool:
    return client.get("/api/v1/whoami").status_code == 200


def test_cookie_is_samesite_strict_httponly_and_secure_over_tls(console):
    app, _hub = console
    plain = login(app.test_client(), "viewer").headers["Set-Cookie"]
    assert "SameSite=Strict" in plain and "HttpOnly" in plain and "Secure" not in plain
    # no 31-day Expires either: the cookie ends with the browser, the session with the server-side limits
    assert "Expires" not in plain
    tls = app.test_client()
    page = tls.get("/login", base_url="https://console.example").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = tls.post("/login", base_url="https://console.example",
                      data={"username": "viewer", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302
    assert "Secure" in answer.headers["Set-Cookie"] and "SameSite=Strict" in answer.headers["Set-Cookie"]


def test_logout_ends_every_copy_of_the_cookie(console):
    app, _hub = console
    browser = app.test_client()
    assert login(browser, "operator").status_code == 302
    thief = copy_of(browser, app)
    assert logged_in(thief)
    assert browser.post("/logout", data={"csrf_token": csrf_of(browser)}).status_code == 302
    assert not logged_in(browser)
    assert not logged_in(thief)
    assert thief.get("/dead-letters").status_code == 302  # pages send it to the login form


def test_a_new_password_or_role_ends_the_session(console):
    app, _hub = console
    state = app.extensions["rabt_console"]
    viewer, operator = app.test_client(), app.test_client()
    login(viewer, "viewer")
    login(operator, "operator")
    passwords = dict(state.users.passwords)
    passwords["viewer"] = (generate_password_hash("a brand new password", method="pbkdf2:sha256:1000"), "viewer")
    passwords["operator"] = (passwords["operator"][0], "admin")  # promoted: log in again to act as admin
    state.users = Users(passwords, state.users.tokens)
    assert not logged_in(viewer) and not logged_in(operator)
    assert login(operator, "operator").status_code == 302
    assert operator.get("/api/v1/whoami").json["role"] == "admin"


def test_the_user_command_ends_the_sessions_in_every_console_process(console, tmp_path):
    app, hub = console
    browser = app.test_client()
    login(browser, "operator")
    assert logged_in(browser)
    # another process's command, sharing only RABT_HOME: this app's users are not even reloaded
    result = CliRunner().invoke(main, ["console", "user", "operator", "--role", "viewer"],
                                env={"RABT_HOME": str(hub.settings.home)},
                                input="a brand new password\na brand new password\n")
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output
    assert (hub.settings.home / SESSIONS_FILE_NAME).is_file()
    assert not logged_in(browser)


def test_sessions_end_after_the_idle_time_and_the_absolute_limit(console):
    app, _hub = console
    store = app.extensions["rabt_console_sessions"]
    now = [1_000_000.0]
    store.clock = lambda: now[0]
    idle = app.test_client()
    login(idle, "viewer")
    now[0] += IDLE_SECONDS - 60
    assert logged_in(idle)  # used just in time: the idle clock restarts
    now[0] += IDLE_SECONDS - 60
    assert logged_in(idle)
    now[0] += IDLE_SECONDS + 1
    assert not logged_in(idle)
    busy = app.test_client()
    login(busy, "viewer")
    started = now[0]
    while now[0] < started + MAX_SECONDS - 3600:
        now[0] += 3600
        assert logged_in(busy)
    now[0] = started + MAX_SECONDS
    assert not logged_in(busy)  # however busy, a day is the most one login lasts


class SlowUsers(Users):
    """Users whose password check takes as long as scrypt does, counting the checks that ran."""

    checks = 0
    lock = threading.Lock()

    def check_password(self, name, password):
        with SlowUsers.lock:
            SlowUsers.checks += 1
        time.sleep(0.3)
        return super().check_password(name, password)


def test_24_concurrent_wrong_guesses_get_at_most_5_password_checks(console):
    app, _hub = console
    state = app.extensions["rabt_console"]
    state.users = SlowUsers(state.users.passwords, state.users.tokens)
    SlowUsers.checks = 0
    start, answers = threading.Barrier(24), []

    def guess(n: int) -> None:
        client = app.test_client()
        page = client.get("/login").data.decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        start.wait()
        answers.append(client.post("/login", data={"username": "admin", "password": f"guess-{n}",
                                                    "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert SlowUsers.checks == 5
    assert sorted(answers) == [401] * 5 + [429] * 19
    assert login(app.test_client(), "admin").status_code == 429  # and the right password is not checked now


def test_a_right_to_left_override_from_an_agency_is_isolated_and_shown(console):
    app, hub = console
    message_id = accept_arrival(hub, "T7770001", name_en=HOSTILE_NAME)
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
        relay(hub, transport)
        dead_letter_all(hub, transport, "licensing", reason=f"refused {RLO}dilav")
    client = app.test_client()
    login(client, "viewer")
    trail = client.get(f"/trail?q={message_id}").data.decode()
    dead = client.get("/dead-letters").data.decode()
    for page in (trail, dead):
        assert RLO not in page  # the control never reaches the browser as a control
        assert "Rajesh [U+202E]gnp.exe" in page
        # the payload dumps: every line's text isolated as left-to-right, inside the pre
        assert re.search(r'<pre dir="ltr"><bdi dir="ltr">[^<]*&lt;b:NameEn&gt;Rajesh \[U\+202E\]gnp.exe', page)
    assert '<bdi class="name" dir="auto" lang="en">Rajesh [U+202E]gnp.exe</bdi>' in trail
    assert re.search(r'<td class="reason"><code><bdi dir="auto">input</bdi></code> '
                     r'<bdi dir="auto">refused \[U\+202E\]dilav [^<]*</bdi></td>', dead)
    # what the API returns is the data as received: revealing is the page's business
    api = client.get(f"/api/v1/messages/{message_id}").json
    assert RLO in api["raw"]


def test_a_token_made_or_replaced_while_the_console_runs_counts_within_a_second(tmp_path, trust_store):
    """The console reads the installation's users file itself (no users given) and follows its changes."""
    hub = make_hub(tmp_path, trust_store)
    env = {"RABT_HOME": str(hub.settings.home)}

    def new_token(role: str) -> str:
        made = CliRunner().invoke(main, ["console", "token", "night-shift", "--role", role], env=env)
        assert made.exit_code == 0, made.output
        return made.stdout.strip().splitlines()[0]

    def role_of(token: str) -> int | str:
        answer = app.test_client().get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        return answer.json["role"] if answer.status_code == 200 else answer.status_code

    first = new_token("viewer")
    app = console_app(hub, {"SAMPLE_HISTORY": False})
    try:
        assert role_of(first) == "viewer"
        second = new_token("operator")  # the same name again: a new token replaces the old one
        deadline = time.monotonic() + 5
        while role_of(second) != "operator" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert role_of(second) == "operator"
        assert role_of(first) == 401  # the replaced token no longer opens the console
        (hub.settings.home / "console-users.toml").write_text("[tokens.broken\n", encoding="utf-8")
        time.sleep(1.1)
        assert role_of(second) == "operator"  # a torn file keeps the last good users
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()
