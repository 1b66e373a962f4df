"""Fixtures shared by every test folder: a development PKI and service checks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from hub.pki import init_pki
from hub.signing import TrustStore

SAMPLES = Path(__file__).parent / "samples"
TEST_PARTIES = ["police", "commerce", "insurance", "centralbank", "courts", "licensing"]


def unavailable(problem: str) -> None:
    """A service the test needs is missing: skip — unless CI demands it (RABT_REQUIRE_BROKER=1), then fail."""
    if os.environ.get("RABT_REQUIRE_BROKER") == "1":
        pytest.fail(f"{problem} (RABT_REQUIRE_BROKER=1)")
    pytest.skip(problem)


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
