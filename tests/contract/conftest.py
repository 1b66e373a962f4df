"""One fixture, ``backend``, parametrised over every transport, so they cannot drift apart.

Each test gets its own exchange/queue prefix on RabbitMQ (deleted afterwards)
and its own SQLite file, so runs never see each other's messages.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest

from tests.conftest import unavailable

from hub.routing import Routes
from hub.transports import Transport, open_transport
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem, isolated_routes

AMQP_URL = os.environ.get("RABT_TEST_AMQP_URL", DEFAULT_AMQP_URL)


@dataclass
class Backend:
    """How to open (and reopen) the transport under test."""

    name: str
    url: str
    routes: Routes
    opts: dict = field(default_factory=dict)
    opened: list = field(default_factory=list)

    def open(self, **extra) -> Transport:
        transport = open_transport(self.url, routes=self.routes, **(self.opts | extra))
        self.opened.append(transport)
        return transport

    @property
    def queue(self) -> str:
        """The licensing work queue under this test's prefix."""
        return self.routes.queue_for("licensing")


def _require_broker() -> None:
    problem = broker_problem(AMQP_URL)
    if problem:
        unavailable(problem)


@pytest.fixture(params=["sqlite", "amqp"])
def backend(request, tmp_path):
    routes = isolated_routes()
    if request.param == "amqp":
        _require_broker()
        backend = Backend("amqp", AMQP_URL, routes, {"connection_name": f"rabt-contract-{uuid.uuid4().hex[:8]}"})
    else:
        backend = Backend("sqlite", f"sqlite:///{tmp_path / 'broker.sqlite3'}", routes)
    with backend.open() as admin:
        admin.declare(routes)
    yield backend
    for transport in backend.opened:
        transport.close()
    if request.param == "amqp":
        with backend.open() as admin:
            admin.undeclare(routes)


@pytest.fixture
def transport(backend):
    """An open transport of the backend under test, closed afterwards."""
    with backend.open() as transport:
        yield transport
