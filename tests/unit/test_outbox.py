"""The outbox relay: nothing accepted is ever lost, whatever the broker does."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from hub.errors import BrokerUnavailableError, MessageLogError, PublishError
from hub.messagelog import Accepted, open_message_log
from hub.outbox import OutboxRelay, to_message
from hub.routing import Routes, load_routes
from hub.transports.base import Message


class FakeTransport:
    """Records every publish() call; can be told to fail the next calls."""

    connection_errors = ()

    def __init__(self) -> None:
        self.calls: list[list[Message]] = []
        self.failures: list[Exception] = []
        self.lock = threading.Lock()

    def publish(self, messages) -> None:
        batch = list(messages)
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.calls.append(batch)

    def idle(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(seconds)

    @property
    def published_ids(self) -> list[str]:
        return [m.message_id for batch in self.calls for m in batch]


def record(n: int) -> Accepted:
    return Accepted(
        message_id=f"m-{n:04d}", message_type="WorkerArrived", source_agency="police",
        destination="licensing", routing_key="licensing.WorkerArrived.police",
        raw=f"<arrival n='{n}'/>".encode(), envelope=f"<Envelope n='{n}'/>".encode(),
        correlation_id=f"c-{n}", source_message_id=f"border-{n}",
        created_at=datetime(2024, 6, 1, tzinfo=timezone.utc),
    )


@pytest.fixture
def log(tmp_path):
    with open_message_log(f"sqlite:///{tmp_path / 'messages.sqlite3'}") as opened:
        yield opened


def accept(log, numbers) -> list[str]:
    return [log.accept(record(n)) for n in numbers]


def test_one_pipelined_publish_per_batch_then_marked(log):
    ids = accept(log, range(7))
    transport = FakeTransport()
    relay = OutboxRelay(log, transport, batch_size=3)
    assert relay.drain() == 7
    assert [len(call) for call in transport.calls] == [3, 3, 1]
    assert transport.published_ids == ids  # oldest first
    first = transport.calls[0][0]
    assert first == Message(body=b"<Envelope n='0'/>", routing_key="licensing.WorkerArrived.police",
                            message_id="m-0000", correlation_id="c-0",
                            headers={"message-type": "WorkerArrived", "source-agency": "police"})
    assert log.unpublished(10) == [] and all(log.get(i).status == "published" for i in ids)
    assert relay.relay_once() == 0 and len(transport.calls) == 3
    log.verify_chain()


@pytest.mark.parametrize("failure", [BrokerUnavailableError("connection refused"),
                                     PublishError("not confirmed in time")])
def test_messages_accepted_while_broker_down_are_delivered_after(log, failure):
    transport = FakeTransport()
    transport.failures = [failure, failure]
    relay = OutboxRelay(log, transport)
    accept(log, range(3))
    assert relay.relay_once() == 0 and relay.last_error is failure
    accept(log, range(3, 5))
    assert relay.relay_once() == 0
    assert len(log.unpublished(10)) == 5 and transport.calls == []
    assert relay.relay_once() == 5 and relay.last_error is None
    assert transport.published_ids == [f"m-{n:04d}" for n in range(5)]
    assert log.stats().by_status == {"published": 5}


def test_partial_publish_error_keeps_only_the_named_messages(log):
    ids = accept(log, range(4))
    transport = FakeTransport()

    def publish_all_but_one(messages):
        transport.calls.append(list(messages))
        raise PublishError("1 message(s) not delivered: unroutable", failed_ids=[ids[2]])
    transport.publish = publish_all_but_one
    relay = OutboxRelay(log, transport)
    assert relay.relay_once() == 3
    assert [p.message_id for p in log.unpublished(10)] == [ids[2]]


def test_crash_between_publish_and_mark_republishes_never_loses(log, monkeypatch):
    ids = accept(log, range(4))
    transport = FakeTransport()
    crashing = OutboxRelay(log, transport)

    def crash(_ids):
        raise MessageLogError("process killed before mark_published")
    monkeypatch.setattr(log, "mark_published", crash)
    with pytest.raises(MessageLogError):
        crashing.relay_once()
    monkeypatch.undo()
    assert transport.published_ids == ids and len(log.unpublished(10)) == 4  # published, not marked

    restarted = OutboxRelay(log, transport)
    assert restarted.relay_once() == 4
    assert transport.published_ids == ids + ids  # at-least-once: twice, never zero times
    assert log.unpublished(10) == []
    assert all([e.status for e in log.events(i)] == ["received", "published"] for i in ids)


def test_run_backs_off_while_down_and_delivers_when_back(log):
    transport = FakeTransport()
    transport.failures = [BrokerUnavailableError("down")] * 3
    relay = OutboxRelay(log, transport, batch_size=2, max_backoff=0.05)
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop, 0.01))
    worker.start()
    try:
        accept(log, range(5))
        deadline = time.monotonic() + 10
        while log.stats().outbox_backlog and time.monotonic() < deadline:
            time.sleep(0.02)
        accept(log, range(5, 7))
        while log.stats().outbox_backlog and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
    assert transport.failures == [] and sorted(transport.published_ids) == [f"m-{n:04d}" for n in range(7)]
    assert log.stats().by_status == {"published": 7}


def test_run_survives_an_unavailable_log(log, monkeypatch):
    transport = FakeTransport()
    relay = OutboxRelay(log, transport)
    real, calls = log.unpublished, []

    def flaky(limit):
        calls.append(limit)
        if len(calls) == 1:
            raise MessageLogError("database is locked")
        return real(limit)
    monkeypatch.setattr(log, "unpublished", flaky)
    accept(log, range(2))
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop, 0.01))
    worker.start()
    deadline = time.monotonic() + 5
    while log.stats().outbox_backlog and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(5)
    assert len(calls) >= 2 and transport.published_ids == ["m-0000", "m-0001"]


def test_batch_size_must_be_positive(log):
    with pytest.raises(ValueError):
        OutboxRelay(log, FakeTransport(), batch_size=0)


def test_relay_into_the_real_sqlite_transport(log, tmp_path):
    from hub.transports.sqlite import SqliteTransport

    routes = load_routes().with_prefix(f"t{id(log)}.")
    ids = accept(log, range(5))
    with SqliteTransport(f"sqlite:///{tmp_path / 'broker.sqlite3'}", routes=routes) as transport:
        transport.declare(routes)
        relay = OutboxRelay(log, transport)
        assert relay.drain() == 5
        received = []
        transport.consume(routes.queue_for("licensing"), lambda d: received.append(d.message),
                          max_messages=5, idle_timeout=2)
    assert [m.message_id for m in received] == ids
    assert [m.body for m in received] == [log.get(i).envelope for i in ids]
    assert received[0].headers["message-type"] == "WorkerArrived"
    assert log.stats().outbox_backlog == 0


def test_unroutable_messages_stay_pending_in_the_real_transport(log, tmp_path):
    from hub.transports.sqlite import SqliteTransport

    routes = Routes(exchange=f"x{id(log)}")  # no queues at all: nothing is routable
    accept(log, range(2))
    with SqliteTransport(f"sqlite:///{tmp_path / 'broker.sqlite3'}", routes=routes) as transport:
        transport.declare(routes)
        relay = OutboxRelay(log, transport)
        assert relay.relay_once() == 0 and isinstance(relay.last_error, PublishError)
    assert len(log.unpublished(10)) == 2


def test_to_message_keeps_correlation(log):
    accept(log, [1])
    [pending] = log.unpublished(1)
    assert to_message(pending).correlation_id == "c-1"


def test_the_relay_moves_dead_letters_into_the_log_with_their_hop_every_few_seconds(log, tmp_path):
    from hub.deadletters import DeadLetterStore
    from hub.errors import InputError
    from hub.transports.sqlite import SqliteTransport

    routes = load_routes().with_prefix(f"d{id(log)}.")
    ids = accept(log, range(2))
    with SqliteTransport(f"sqlite:///{tmp_path / 'broker.sqlite3'}", routes=routes) as transport:
        transport.declare(routes)
        relay = OutboxRelay(log, transport, collect_every=60)
        relay.drain()
        transport.consume(routes.queue_for("licensing"), lambda d: (_ for _ in ()).throw(InputError("no")),
                          max_messages=2, idle_timeout=2)
        assert relay.collect_dead_letters() == 2 and transport.dead_letters() == []
        transport.publish([to_message(log.get(ids[0]))])
        transport.consume(routes.queue_for("licensing"), lambda d: (_ for _ in ()).throw(InputError("no")),
                          max_messages=1, idle_timeout=2)
        assert relay.collect_dead_letters() == 0  # not due yet: once per collect_every
    assert sorted(d.message_id for d in DeadLetterStore(log.engine).list()) == sorted(ids)
    assert [e.status for e in log.events(ids[1])] == ["received", "published", "dead-lettered"]
