"""Misconfigurations as an operator meets them: the real ``rabt`` command, exit 1, one line saying what to do.

Each case once printed a traceback (or a minute of library retries before the
useful line). A case passes only when stderr is exactly one line and that line
names the fix; the password of a URL never appears in it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from simulators.demo.scenarios import SCENARIOS

from hub import lifeline
from hub.routing import load_routes
from hub.transports import open_transport
from hub.transports.testing import DEFAULT_AMQP_URL

pytestmark = pytest.mark.timeout(120)


def rabt(home: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """The installed ``rabt`` run as a user would, with ``RABT_HOME=home`` and ``env`` on top."""
    command = shutil.which("rabt", path=str(Path(sys.executable).parent))
    assert command, "the rabt command is not installed next to this Python"
    clean = {name: value for name, value in os.environ.items() if not name.startswith("RABT_")}
    return subprocess.run([command, *args], env={**clean, "RABT_HOME": str(home), **env}, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A hub home with its PKI, so each case fails on the one thing it gets wrong."""
    home = tmp_path_factory.mktemp("hub-home")
    made = rabt(home, "pki", "init")
    assert made.returncode == 0, made.stderr
    return home


def one_line_failure(result: subprocess.CompletedProcess, *fix: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    for words in fix:
        assert words in lines[0], lines[0]
    return lines[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe is: nothing listens there


SERVE = ("serve", "--gateway-port", "0", "--console-port", "0")


def test_an_unresolvable_broker_host(home):
    result = rabt(home, *SERVE, RABT_BROKER_URL="amqp://hub:s3cret@no-such-host.invalid:5672/")
    line = one_line_failure(result, "'no-such-host.invalid' does not resolve", "fix the host in RABT_BROKER_URL")
    assert "s3cret" not in line and "hub:***@" in line


def test_a_broker_that_refuses_connections(home):
    result = rabt(home, *SERVE, RABT_BROKER_URL=f"amqp://hub:s3cret@127.0.0.1:{closed_port()}/")
    line = one_line_failure(result, "cannot reach the broker", "connection refused", "start RabbitMQ or fix")
    assert "s3cret" not in line


def test_a_wrong_broker_password(home):
    wrong = DEFAULT_AMQP_URL.replace("guest:guest@", "guest:not-the-password@")
    line = one_line_failure(rabt(home, *SERVE, RABT_BROKER_URL=wrong), "refused the login",
                            "check the user and password in RABT_BROKER_URL")
    assert "not-the-password" not in line


def test_the_worker_with_an_unresolvable_broker_host(home):
    result = rabt(home, "worker", "police", RABT_BROKER_URL="amqp://guest:guest@no-such-host.invalid/",
                  RABT_POLICE_CIVIL_REGISTRY_URL="http://127.0.0.1:9/soap/civil-registry",
                  RABT_POLICE_TRANSFER_URL="http://127.0.0.1:9/soap/transfer")
    one_line_failure(result, "does not resolve")


def test_a_port_in_use(home):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = rabt(home, "serve", "--gateway-port", str(port), "--console-port", "0")
    one_line_failure(result, "address already in use", "choose another port")


def test_a_home_that_cannot_be_a_folder(tmp_path):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    result = rabt(a_file / "home", *SERVE)
    one_line_failure(result, f"cannot use {a_file / 'home'}", "point RABT_HOME")


def test_an_unknown_demo_scenario(tmp_path):
    beyond = len(SCENARIOS) + 1
    one_line_failure(rabt(tmp_path / "var", "demo", "--scenario", str(beyond)), f"no scenario {beyond}",
                     f"choose from 1 to {len(SCENARIOS)}")


def test_an_unusable_database_url(home):
    one_line_failure(rabt(home, *SERVE, RABT_DATABASE_URL="mongodb://db/rabt"), "unsupported database URL",
                     "use sqlite:///path or postgresql://")


def test_a_database_that_refuses_connections(home):
    # libpq's message spans two lines; the command still prints one
    url = f"postgresql://rabt:s3cret@127.0.0.1:{closed_port()}/rabt"
    line = one_line_failure(rabt(home, *SERVE, RABT_DATABASE_URL=url), "Connection refused", "Is the server running")
    assert "s3cret" not in line


def test_an_unknown_broker_scheme(home):
    one_line_failure(rabt(home, *SERVE, RABT_BROKER_URL="redis://127.0.0.1/"), "unknown transport 'redis'",
                     "known: amqp")


def test_a_missing_pki(tmp_path):
    one_line_failure(rabt(tmp_path, *SERVE), "no hub key", "run `rabt pki init` first")


def test_a_routes_file_that_is_not_toml(home, tmp_path):
    broken = tmp_path / "routes.toml"
    broken.write_text('exchange = "rabt.canonical\n', encoding="utf-8")
    one_line_failure(rabt(home, *SERVE, RABT_ROUTES_FILE=str(broken)), f"cannot read routes file {broken}")


def test_a_console_users_file_that_is_not_toml(home, tmp_path):
    broken = tmp_path / "users.toml"
    broken.write_text("[users\n", encoding="utf-8")
    result = rabt(home, "console", "user", "amal", "--role", "admin", "--password", "a-long-passphrase",
                  RABT_CONSOLE_USERS=str(broken))
    one_line_failure(result, f"cannot read console users {broken}")


def test_serve_and_worker_never_print_the_broker_password(home, tmp_path):
    routes_file = tmp_path / "routes.toml"
    routes_file.write_text(f'exchange = "rabt.canonical"\nqueue_prefix = "rabt-test-{uuid.uuid4().hex[:8]}."\n'
                           'destinations = ["licensing", "police"]\n', encoding="utf-8")
    env = {"RABT_BROKER_URL": DEFAULT_AMQP_URL, "RABT_ROUTES_FILE": str(routes_file),
           "RABT_POLICE_CIVIL_REGISTRY_URL": "http://127.0.0.1:9/soap/civil-registry",
           "RABT_POLICE_TRANSFER_URL": "http://127.0.0.1:9/soap/transfer"}
    try:
        for command in ([*SERVE, "--role", "relay"], ["worker", "police"]):
            started = lifeline.popen([shutil.which("rabt", path=str(Path(sys.executable).parent)), *command],
                                     env={**os.environ, "RABT_HOME": str(home), **env},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                banner = next(line for line in started.stderr if "SIGTERM" in line)
            finally:
                started.terminate()
                rest = started.communicate(timeout=60)
            assert "guest:***@127.0.0.1" in banner, banner
            assert ":guest@" not in banner + "".join(rest), banner
    finally:
        with open_transport(DEFAULT_AMQP_URL, routes=load_routes(routes_file)) as transport:
            transport.undeclare(transport.routes)
