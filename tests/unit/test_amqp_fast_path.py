"""The AMQP transport's work runs once without the retrying machinery, but not without its recovery.

No broker: the connection is a stand-in that says whether it is open, and
``_connect`` is replaced by one that opens a new stand-in, so what is checked is
the transport's own control flow — which work runs how often, when a connection
is dropped and what the broker's watch is told. Work opens the connection it
uses through the transport's ``connection`` property, as the transport's own does.
"""

from __future__ import annotations

import pika.exceptions as px
import pytest

from hub.errors import BrokerUnavailableError, TransportError
from hub.routing import load_routes
from hub.transports.amqp import AmqpTransport


class OpenConnection:
    """Stands in for an open pika connection."""

    def __init__(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False


@pytest.fixture
def transport(monkeypatch) -> AmqpTransport:
    transport = AmqpTransport("amqp://guest:guest@127.0.0.1:5672/", routes=load_routes(), reconnect_timeout=1.0)
    transport.connections = []

    def connect() -> None:
        if transport._connection is None or not transport._connection.is_open:
            transport._connection = OpenConnection()
            transport.connections.append(transport._connection)

    monkeypatch.setattr(transport, "_connect", connect)
    transport._connection = OpenConnection()
    yield transport
    transport.broker_state.clear()


def test_work_on_an_open_connection_runs_once_and_connects_nothing(transport):
    calls = []
    assert transport.with_reconnect(lambda: calls.append(1) or "sent", "publish") == "sent"
    assert calls == [1] and transport.connections == []
    assert not transport.broker_state.down


def test_a_connection_error_on_an_open_connection_drops_it_reconnects_and_runs_the_work_again(transport):
    first, calls = transport._connection, []

    def work():
        calls.append(transport.connection)
        if len(calls) == 1:
            raise ConnectionResetError("the broker closed the socket")
        return "sent"

    assert transport.with_reconnect(work, "publish") == "sent"
    assert not first.is_open  # dropped, not reused
    assert len(calls) == 2 and calls[1] is transport.connections[0] is transport._connection
    assert not transport.broker_state.down  # told it failed, then that it is back


def test_a_broker_that_stays_away_is_still_given_up_on_after_the_reconnect_timeout(transport):
    def work():
        raise ConnectionResetError("the broker closed the socket")

    with pytest.raises(BrokerUnavailableError, match="publish: broker unreachable"):
        transport.with_reconnect(work, "publish")
    assert transport.broker_state.down


def test_a_broker_refusal_on_an_open_connection_is_translated_and_the_connection_dropped(transport):
    opened = transport._connection

    def work():
        raise px.ChannelClosedByBroker(404, "NOT_FOUND - no exchange 'rabt.missing'")

    with pytest.raises(TransportError, match="publish: broker refused: 404 NOT_FOUND"):
        transport.with_reconnect(work, "publish")
    assert not opened.is_open and transport._connection is None
