"""Dead letters kept in the hub's database: looking never touches the broker, on both transports.

RabbitMQ 4.x counts every get-and-requeue of a quorum queue message towards its
delivery limit; the hub moves dead letters off the broker once and lists them
from its own table, so the 50th look finds exactly what the first did.
"""

from __future__ import annotations

import pytest

from hub.deadletters import DeadLetterDesk, DeadLetterStore, LetterFilter
from hub.errors import BrokerUnavailableError, InputError
from hub.messagelog import open_message_log
from hub.transports.base import DeadLetterNotFoundError, Delivery, Message


def _msg(i: int, agency: str = "police", message_type: str = "WorkerArrived") -> Message:
    return Message(f"<m n='{i}'/>".encode(), f"licensing.{message_type}.{agency}", f"m-{i}", f"c-{i}",
                   headers={"source-agency": agency})


def _fail(delivery: Delivery) -> None:
    raise InputError(f"cannot apply {delivery.message.message_id}")


@pytest.fixture
def desk(broker, tmp_path):
    log = open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    transport = broker.open()
    yield DeadLetterDesk(DeadLetterStore(log.engine), log, lambda work: work(transport)), transport
    log.close()


def _dead_letter(transport, queue: str, messages: list[Message]) -> None:
    transport.publish(messages)
    assert transport.consume(queue, _fail, idle_timeout=0.8) == len(messages)


def test_fifty_looks_leave_every_dead_letter_intact_then_replay_and_discard_work(broker, desk):
    desk, transport = desk
    sent = [_msg(i) for i in range(3)]
    _dead_letter(transport, broker.queue, sent)
    first = desk.letters()
    assert [d.message for d in first] == sent and {d.attempts for d in first} == {1}
    for _ in range(50):
        again = desk.letters()
        assert [(d.id, d.message, d.attempts, d.reason, d.code) for d in again] == \
               [(d.id, d.message, d.attempts, d.reason, d.code) for d in first]
    assert transport.dead_letters() == []  # nothing left on the broker to be counted or dropped
    assert [s.dead_letters for s in transport.queue_stats() if s.name == broker.queue] == [0]

    desk.replay(first[0].id, "olga")
    redelivered = []
    transport.consume(broker.queue, lambda d: redelivered.append((d.message, d.attempt)), idle_timeout=0.8)
    assert redelivered == [(sent[0], 1)]
    desk.discard(first[1].id, "olga", "duplicate of a later arrival")
    assert [d.id for d in desk.letters()] == [first[2].id]
    with pytest.raises(DeadLetterNotFoundError):
        desk.replay(first[0].id, "olga")

    hops = [(e.status, e.actor) for e in desk.log.events("m-0")]
    assert hops == [("dead-lettered", None), ("replayed", "olga")]
    [dead, discarded] = desk.log.events("m-1")
    assert "[input] cannot apply m-1" in dead.detail and "after 1 attempt(s)" in dead.detail
    assert (discarded.status, discarded.actor) == ("discarded", "olga")
    assert "duplicate of a later arrival" in discarded.detail


def test_a_purge_needs_the_queue_name_and_is_chained(broker, desk):
    desk, transport = desk
    _dead_letter(transport, broker.queue, [_msg(i) for i in range(4)])
    with pytest.raises(InputError):
        desk.purge(broker.queue, "olga", confirm="yes")
    assert len(desk.letters()) == 4
    assert desk.purge(broker.queue, "olga", confirm=broker.queue) == 4
    assert desk.letters() == []
    [action] = [a for a in desk.log.actions() if a.status == "purged"]
    assert action.actor == "olga" and broker.queue in action.detail and "4 dead letter(s)" in action.detail
    assert desk.log.verify_chain().ok


def test_letters_filter_by_agency_type_and_time(broker, desk):
    desk, transport = desk
    _dead_letter(transport, broker.queue, [_msg(1, "police"), _msg(2, "courts", "CaseUpdate"), _msg(3, "police")])
    assert [d.message_id for d in desk.letters(LetterFilter(agency="police"))] == ["m-1", "m-3"]
    assert [d.message_id for d in desk.letters(LetterFilter(message_type="CaseUpdate"))] == ["m-2"]
    at = desk.letters()[0].dead_lettered_at
    assert desk.letters(LetterFilter(since=at + 3600)) == []
    assert len(desk.letters(LetterFilter(until=at + 3600, queue=broker.queue))) == 3


def test_a_failed_keep_leaves_the_letters_on_the_broker(broker, desk):
    desk, transport = desk
    _dead_letter(transport, broker.queue, [_msg(1)])

    def broken_keep(_letters) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        transport.move_dead_letters(broken_keep)
    on_broker = transport.dead_letters()
    assert [d.message_id for d in on_broker] == ["m-1"]
    assert [d.message_id for d in desk.letters()] == ["m-1"]
    # the same letters moved again (a crash between keep and ack) are kept once
    assert desk.store.keep(on_broker) == [] and len(desk.store.list()) == 1


def test_rabbitmq_dead_letter_queues_missing_between_others_are_skipped_and_the_rest_counted_and_moved():
    """Every DLQ is counted and read on one channel; one the broker does not have (it closes that channel)
    is passed over."""
    from hub.transports import open_transport
    from hub.transports.amqp_topology import dead_letter_queue
    from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem, isolated_routes
    from tests.conftest import declared, unavailable

    if problem := broker_problem(DEFAULT_AMQP_URL):
        unavailable(problem)
    routes = isolated_routes()
    licensing, police, commerce, *_, courts, _hub = routes.queues
    with declared(DEFAULT_AMQP_URL, routes), open_transport(DEFAULT_AMQP_URL, routes=routes) as transport:
        _dead_letter(transport, police.name, [Message(b"<m/>", "police.Test.hub", "p-1")])
        _dead_letter(transport, courts.name, [Message(b"<m/>", "courts.Test.hub", "c-1"),
                                              Message(b"<m/>", "courts.Test.hub", "c-2")])
        for gone in (licensing, commerce):  # before the first letters, and between them
            transport.channel.queue_delete(dead_letter_queue(gone.name))
        counted = {stats.name: stats.dead_letters for stats in transport.queue_stats()}
        assert counted == {q.name: {police.name: 1, courts.name: 2}.get(q.name, 0) for q in routes.queues}
        kept: list = []
        assert transport.move_dead_letters(kept.extend) == 3
        assert [(d.queue, d.message_id) for d in kept] == [(police.name, "p-1"), (courts.name, "c-1"),
                                                           (courts.name, "c-2")]
        assert transport.move_dead_letters(kept.extend) == 0  # acked: off the broker, not back on closing


def test_a_replay_is_chained_before_the_message_is_back_and_a_failed_one_says_so(broker, desk):
    """A worker may take a replayed message at once: its hops must come after the replay in the trail."""
    desk, transport = desk
    _dead_letter(transport, broker.queue, [_msg(1), _msg(2)])
    [one, two] = desk.letters()
    chained_when_requeued = []

    def on_broker(work):
        chained_when_requeued.append([e.status for e in desk.log.events(one.message_id)])
        return work(transport)

    watched = DeadLetterDesk(desk.store, desk.log, on_broker)
    watched.replay(one.id, "olga")
    assert chained_when_requeued[-1] == ["dead-lettered", "replayed"]

    def broker_away(work):
        raise BrokerUnavailableError("connection refused")

    with pytest.raises(BrokerUnavailableError):
        DeadLetterDesk(desk.store, desk.log, broker_away).replay(two.id, "olga")
    hops = [(e.status, e.actor) for e in desk.log.events(two.message_id)]
    assert hops == [("dead-lettered", None), ("replayed", "olga"), ("failed", "olga")]
    assert "replay of dead letter" in desk.log.events(two.message_id)[-1].detail
    assert [d.id for d in desk.letters()] == [two.id]  # still kept, to replay again
