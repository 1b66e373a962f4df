"""Publisher confirms are pipelined on the real broker: a batch costs a few I/O waits, not one per message.

The publishing connection runs pika's asynchronous adapter from the calling
thread: each wait for confirms (or an answer) is one run of its I/O loop
(``ConfirmingPublisher.wait_until``). Counting those runs shows whether the
batch waited per message, which is what pika's blocking channel in confirm
mode would do.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import AMQP_URL, broker_url, declared

from hub.errors import PublishError
from hub.transports import Message, open_transport
from hub.transports.amqp_publisher import ConfirmingPublisher
from hub.transports.testing import isolated_routes

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]
BATCH = 600


@pytest.fixture
def routes():
    routes = isolated_routes()
    with declared(broker_url("amqp", Path()), routes):
        yield routes


@pytest.fixture
def io_runs(monkeypatch) -> list[float]:
    """Every run of a publishing connection's I/O loop, by the deadline it was given."""
    runs: list[float] = []
    original = ConfirmingPublisher.wait_until

    def counted(self, done, deadline):
        runs.append(deadline)
        return original(self, done, deadline)

    monkeypatch.setattr(ConfirmingPublisher, "wait_until", counted)
    return runs


def messages(count: int, tag: str) -> list[Message]:
    return [Message(f"<m>{tag}-{n}</m>".encode(), "licensing.WorkerArrival.police", f"{tag}-{n}") for n in range(count)]


def test_a_batch_is_confirmed_in_a_few_waits_and_every_message_arrives(routes, io_runs):
    with open_transport(AMQP_URL, routes=routes) as transport:
        transport.publish(messages(1, "warm"))  # opening the connection and its channel waits too
        io_runs.clear()
        transport.publish(messages(BATCH, "batch"))
        # one settle, and one round every 256 publishes handing the buffer to the socket early
        assert len(io_runs) <= 1 + BATCH // 256
        seen: list[str] = []
        transport.consume(routes.queue_for("licensing"), lambda delivery: seen.append(delivery.message.message_id),
                          max_messages=BATCH + 1, idle_timeout=10)
    assert sorted(seen) == sorted([f"batch-{n}" for n in range(BATCH)] + ["warm-0"])


def test_an_unroutable_message_in_a_batch_is_named_and_the_rest_are_delivered(routes, io_runs):
    batch = messages(50, "mixed")
    batch[20] = Message(b"<m>lost</m>", "nowhere.Nothing.none", "mixed-unroutable")
    with open_transport(AMQP_URL, routes=routes) as transport:
        with pytest.raises(PublishError, match="mixed-unroutable: unroutable") as refused:
            transport.publish(batch)
        assert refused.value.failed_ids == ("mixed-unroutable",)
        seen: list[str] = []
        transport.consume(routes.queue_for("licensing"), lambda delivery: seen.append(delivery.message.message_id),
                          max_messages=50, idle_timeout=5)
    assert sorted(seen) == sorted(m.message_id for m in batch if m.message_id != "mixed-unroutable")


def _pollers() -> int:
    """This process's open epoll descriptors (Linux)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[eventpoll]"
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
    return count


def test_waits_share_one_poller_which_the_close_lets_go(routes):
    before = _pollers()
    with open_transport(AMQP_URL, routes=routes) as transport:
        transport.publish(messages(1, "warm"))
        held = _pollers()
        for n in range(5):  # each publish waits for its confirm: no poller is made per wait
            transport.publish(messages(3, f"round-{n}"))
        assert _pollers() == held
    assert _pollers() == before  # closed with the connection, not left for the collector
