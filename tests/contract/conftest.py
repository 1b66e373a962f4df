"""The contract suite's ``backend``: the shared ``broker`` fixture, over every transport.

Each test gets its own exchange/queue prefix on RabbitMQ (deleted afterwards)
and its own SQLite file, so runs never see each other's messages.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def backend(broker):
    """The transport under test (see ``tests/conftest.py``: ``Broker``)."""
    return broker


@pytest.fixture
def transport(backend):
    """An open transport of the backend under test, closed afterwards."""
    with backend.open() as transport:
        yield transport
