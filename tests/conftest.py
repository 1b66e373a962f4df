"""Fixtures shared by every test folder: a development PKI, service checks, and "on each transport".

A test that must hold on every transport takes ``broker`` (parametrised over
:data:`TRANSPORTS`): its own queue prefix on RabbitMQ, removed afterwards, or
its own SQLite file. A module that needs other retry delays overrides
``broker_routes``. Module-scoped fixtures use :func:`broker_url` and
:func:`declared`, the same steps without the per-test scope.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.pki import init_pki
from hub.routing import Routes
from hub.signing import TrustStore
from hub.transports import Transport, open_transport, transport_class
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem, isolated_routes

SAMPLES = Path(__file__).parent / "samples"
TEST_PARTIES = ["police", "commerce", "insurance", "centralbank", "courts", "licensing"]


def unavailable(problem: str) -> None:
    """A service the test needs is missing: skip — unless CI demands it (RABT_REQUIRE_BROKER=1), then fail."""
    if os.environ.get("RABT_REQUIRE_BROKER") == "1":
        pytest.fail(f"{problem} (RABT_REQUIRE_BROKER=1)")
    pytest.skip(problem)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked ``long_running`` first (the longest timeout first), then files with more tests first.

    The xdist workers take whole files in this order (``--no-loadscope-reorder`` in
    ``pyproject.toml``). xdist's own order, most tests first, left a one-test file of minutes such
    as the broker outage to run alone at the end while the other worker sat idle.
    """
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)

    def started_first(tests: list[pytest.Item]) -> tuple:
        long_running = tests[0].get_closest_marker("long_running") is not None
        timeout = tests[0].get_closest_marker("timeout")
        return (not long_running, -(timeout.args[0] if long_running and timeout else 0), -len(tests))

    items[:] = [item for tests in sorted(files.values(), key=started_first) for item in tests]


#: every transport a "on each transport" test runs on
TRANSPORTS = ("sqlite", "amqp")
AMQP_URL = os.environ.get("RABT_TEST_AMQP_URL", DEFAULT_AMQP_URL)


def broker_url(kind: str, folder: Path) -> str:
    """RabbitMQ's URL (skip or fail when it is down), or a new SQLite broker file in ``folder``."""
    if kind == "amqp":
        problem = broker_problem(AMQP_URL)
        if problem:
            unavailable(problem)
        return AMQP_URL
    return f"sqlite:///{folder / 'broker.sqlite3'}"


@contextmanager
def declared(url: str, routes: Routes) -> Iterator[None]:
    """``routes`` declared for the block; removed afterwards where the broker is shared with other runs."""
    with open_transport(url, routes=routes) as admin:
        admin.declare(routes)
    try:
        yield
    finally:
        if transport_class(url).capabilities.shared_server:
            with open_transport(url, routes=routes) as admin:
                admin.undeclare(routes)


@dataclass
class Broker:
    """The transport under test: its URL, this test's routes, and how to open (and reopen) it."""

    name: str
    url: str
    routes: Routes
    opts: dict = field(default_factory=dict)
    opened: list = field(default_factory=list)

    def open(self, **extra) -> Transport:
        """A new transport, closed at the end of the test if the test does not."""
        transport = open_transport(self.url, routes=self.routes, **(self.opts | extra))
        self.opened.append(transport)
        return transport

    @property
    def queue(self) -> str:
        """The licensing work queue under this test's prefix."""
        return self.routes.queue_for("licensing")


#: queues of a run killed before it could remove them: tests' and benchmarks' own prefixes
THROWAWAY_QUEUES = r"^(rabt-test|rabt-e2e|test-outage|bench)-"
#: unused this long, such a queue is the leftover of a killed run (no test leaves a queue idle for an hour)
THROWAWAY_QUEUE_EXPIRY_MS = 3600 * 1000


@pytest.fixture(scope="session", autouse=True)
def throwaway_queues_expire() -> None:
    """Let the local RabbitMQ drop test and benchmark queues unused for an hour (a policy, set once per run).

    A killed run leaves its isolated quorum queues behind; a broker shared by
    many runs collected hundreds of them and then stopped completing handshakes.
    Without rabbitmqctl (a remote broker) nothing is set: such queues are the
    broker owner's to sweep.
    """
    if not shutil.which("rabbitmqctl") or broker_problem(AMQP_URL):
        return
    subprocess.run(["rabbitmqctl", "set_policy", "--apply-to", "queues", "rabt-throwaway-queues", THROWAWAY_QUEUES,
                    f'{{"expires": {THROWAWAY_QUEUE_EXPIRY_MS}}}'], capture_output=True, timeout=60, check=False)


@pytest.fixture
def broker_routes() -> Routes:
    """Routes under a prefix of this test's own; override in a module for other delays or attempts."""
    return isolated_routes()


@pytest.fixture(params=TRANSPORTS)
def broker(request, tmp_path, broker_routes) -> Iterator[Broker]:
    """The test runs once per transport, on a declared topology of its own."""
    url = broker_url(request.param, tmp_path)
    named = transport_class(url).capabilities.connection_name
    opts = {"connection_name": f"rabt-test-{uuid.uuid4().hex[:8]}"} if named else {}
    under_test = Broker(request.param, url, broker_routes, opts)
    with declared(url, broker_routes):
        yield under_test
        for transport in under_test.opened:
            transport.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """An empty database on each engine the hub supports: a new SQLite file, or the module's PostgreSQL one emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'database.sqlite3'}"
    import sqlalchemy as sa

    url = request.getfixturevalue("postgres_database_url")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    tables = sa.MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)  # what the module's previous test left
    engine.dispose()
    return url


def require_service(name: str, host: str, port: int) -> None:
    """Skip or fail (see :func:`unavailable`) when a server is not listening."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        unavailable(f"{name} not reachable on {host}:{port}: {exc}")


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory) -> Path:
    """A development PKI (RSA) with a key for the hub and every test party."""
    root = tmp_path_factory.mktemp("pki")
    init_pki(root, TEST_PARTIES)
    return root


@pytest.fixture(scope="session")
def trust_store(pki_dir) -> TrustStore:
    return TrustStore.load(pki_dir)


@pytest.fixture(scope="module")
def new_postgres_database():
    """``new_postgres_database()`` → the URL of a fresh database on the real PostgreSQL; all dropped afterwards.

    Skips, or fails under RABT_REQUIRE_BROKER=1, when PostgreSQL is not reachable.
    """
    import uuid

    import psycopg

    admin_url = os.environ.get("RABT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(admin_url, connect_timeout=3).close()
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL not reachable: {exc}")
    names: list[str] = []

    def create() -> str:
        names.append(f"rabt_test_{uuid.uuid4().hex[:12]}")
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{names[-1]}"')
        return admin_url.rsplit("/", 1)[0] + "/" + names[-1]

    yield create
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_database_url(new_postgres_database):
    """A fresh database on the real PostgreSQL for the module, dropped afterwards."""
    return new_postgres_database()
