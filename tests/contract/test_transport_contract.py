"""The transport contract: every implementation (sqlite, amqp) passes this same suite."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest

from hub.errors import AgencyUnavailableError, InputError, PublishError, ReplyTimeoutError, SchemaError
from hub.transports import Delivery, Message, open_transport
from hub.transports.base import DeadLetterNotFoundError


def msg(i: int | str = 0, destination: str = "licensing", **kw) -> Message:
    return Message(body=f"<m n='{i}'/>".encode(), routing_key=f"{destination}.WorkerArrived.police",
                   message_id=f"id-{i}-{uuid.uuid4().hex[:6]}", **kw)


def drain(transport, queue, idle=1.0, **kw) -> list[Delivery]:
    seen: list[Delivery] = []
    transport.consume(queue, seen.append, idle_timeout=idle, **kw)
    return seen


class Crash(BaseException):
    """Stands for the process dying inside a handler (not an Exception: nothing handles it)."""


def test_round_trip_keeps_body_ids_and_headers(backend, transport):
    sent = [msg(i, correlation_id=f"corr-{i}", reply_to=None, headers={"agency": "police", "n": i},
                content_type="application/xml; charset=utf-8") for i in range(3)]
    transport.publish(sent)
    got = drain(transport, backend.queue, max_messages=3)
    assert sorted((d.message for d in got), key=lambda m: m.message_id) == sorted(sent, key=lambda m: m.message_id)
    assert all(d.attempt == 1 and not d.redelivered and d.queue == backend.queue for d in got)


def test_nothing_lost_and_routed_by_destination(backend, transport):
    sent = [msg(i) for i in range(300)] + [msg(f"p{i}", destination="police") for i in range(20)]
    transport.publish(sent)
    got = drain(transport, backend.queue)
    assert sorted(d.message.message_id for d in got) == sorted(m.message_id for m in sent[:300])
    police = drain(transport, backend.routes.queue_for("police"))
    assert {d.message.message_id for d in police} == {m.message_id for m in sent[300:]}


def test_unroutable_publish_raises_naming_the_message(backend, transport):
    good, bad = msg(1), msg(2, destination="nobody")
    with pytest.raises(PublishError) as caught:
        transport.publish([good, bad])
    assert bad.message_id in str(caught.value)
    assert good.message_id not in str(caught.value)
    assert caught.value.failed_ids == (bad.message_id,)  # what the outbox relay keeps for later
    assert [d.message.message_id for d in drain(transport, backend.queue, idle=0.5)] == [good.message_id]


def test_recoverable_failure_is_retried_then_dead_lettered(backend, transport):
    sent = msg(1, headers={"k": "v"})
    transport.publish([sent])
    attempts: list[int] = []

    def flaky(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        raise AgencyUnavailableError("police registry down", agency="police")

    assert transport.consume(backend.queue, flaky, idle_timeout=1.5) == 3
    assert attempts == [1, 2, 3]
    [letter] = transport.dead_letters(backend.queue)
    assert (letter.message_id, letter.queue, letter.attempts) == (sent.message_id, backend.queue, 3)
    assert "police registry down" in letter.reason and letter.code == "agency-unavailable"
    assert letter.message == sent and abs(letter.dead_lettered_at - time.time()) < 60


def test_recovers_on_a_later_attempt(backend, transport):
    transport.publish([msg(1)])
    attempts: list[int] = []

    def second_time_lucky(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if delivery.attempt == 1:
            raise ConnectionResetError("agency hung up")

    transport.consume(backend.queue, second_time_lucky, idle_timeout=1.0)
    assert attempts == [1, 2]
    assert transport.dead_letters() == []


@pytest.mark.parametrize("error", [SchemaError("Body: missing element"), KeyError("bug")])
def test_non_recoverable_failure_is_dead_lettered_at_once(backend, transport, error):
    sent = msg(1)
    transport.publish([sent])
    calls = []

    def broken(delivery: Delivery) -> None:
        calls.append(delivery.attempt)
        raise error

    transport.consume(backend.queue, broken, idle_timeout=0.8)
    assert calls == [1]
    [letter] = transport.dead_letters()
    assert letter.attempts == 1 and letter.message_id == sent.message_id
    assert letter.code == ("schema" if isinstance(error, SchemaError) else "KeyError")
    assert letter.reason == str(error)


def test_replay_delivers_exactly_once_more_then_is_gone(backend, transport):
    sent = msg(1)
    transport.publish([sent])
    transport.consume(backend.queue, lambda d: (_ for _ in ()).throw(InputError("bad")), idle_timeout=0.5)
    [letter] = transport.dead_letters(backend.queue)
    transport.replay(letter.id)
    got = drain(transport, backend.queue, idle=0.8)
    assert [(d.message, d.attempt) for d in got] == [(sent, 1)]
    assert transport.dead_letters() == []
    with pytest.raises(DeadLetterNotFoundError):
        transport.replay(letter.id)


def test_discard_removes_a_dead_letter(backend, transport):
    transport.publish([msg(1), msg(2)])
    transport.consume(backend.queue, lambda d: (_ for _ in ()).throw(ValueError("no")), idle_timeout=0.5)
    letters = transport.dead_letters()
    assert len(letters) == 2
    transport.discard(letters[0].id)
    assert [dl.id for dl in transport.dead_letters()] == [letters[1].id]
    with pytest.raises(DeadLetterNotFoundError):
        transport.discard(letters[0].id)


def _responder(backend, ready: threading.Event, stop: threading.Event, errors: list) -> None:
    with backend.open() as server:
        def answer(delivery: Delivery) -> None:
            body = b"<answer>" + delivery.message.body + b"</answer>"
            try:
                server.reply(delivery, Message(body, "reply", f"r-{delivery.message.message_id}"))
            except Exception as exc:
                errors.append(exc)
                raise

        ready.set()
        server.consume(backend.queue, answer, stop=stop)


def test_request_reply_matches_correlation_id(backend, transport):
    ready, stop, errors = threading.Event(), threading.Event(), []
    worker = threading.Thread(target=_responder, args=(backend, ready, stop, errors), daemon=True)
    worker.start()
    ready.wait(5)
    try:
        for i in range(3):
            request = msg(i, correlation_id=f"corr-{i}")
            answer = transport.request(request, timeout=10)
            assert answer.correlation_id == f"corr-{i}"
            assert answer.body == b"<answer>" + request.body + b"</answer>"
            assert answer.message_id == f"r-{request.message_id}"
    finally:
        stop.set()
        worker.join(10)
    assert errors == [] and transport.dead_letters() == []  # a delivered reply is not reported as lost


def test_request_without_a_responder_times_out(backend, transport):
    started = time.monotonic()
    with pytest.raises(ReplyTimeoutError):
        transport.request(msg(1), timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5


def test_an_unroutable_question_is_refused_at_once_and_the_next_question_is_answered(backend, transport):
    # the asker no longer waits for the question's confirm before the answer: a refusal must still end the wait
    with pytest.raises(PublishError, match="unroutable"):
        transport.request(msg(1, destination="nobody"), timeout=60)  # not a ReplyTimeoutError after a minute
    ready, stop, errors = threading.Event(), threading.Event(), []
    worker = threading.Thread(target=_responder, args=(backend, ready, stop, errors), daemon=True)
    worker.start()
    ready.wait(5)
    try:
        request = msg(2, correlation_id="corr-after-refusal")
        assert transport.request(request, timeout=10).body == b"<answer>" + request.body + b"</answer>"
    finally:
        stop.set()
        worker.join(10)
    assert errors == []


def test_stats_show_depth_and_dead_letters(backend, transport):
    transport.publish([msg(i) for i in range(5)])
    transport.consume(backend.queue, lambda d: (_ for _ in ()).throw(ValueError("x")), max_messages=1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # quorum queue counters settle asynchronously
        stats = {s.name: s for s in transport.queue_stats()}
        if stats[backend.queue].ready == 4:
            break
        time.sleep(0.1)
    assert stats[backend.queue].ready == 4
    assert stats[backend.queue].dead_letters == 1
    assert stats[backend.routes.queue_for("police")].ready == 0
    assert set(stats) == {q.name for q in backend.routes.queues}


def _consume_in_thread(backend, results: list, index: int) -> None:
    with backend.open() as mine:
        ids: list[str] = []
        mine.consume(backend.queue, lambda d: (ids.append(d.message.message_id), time.sleep(0.001)),
                     prefetch=10, idle_timeout=1.5)
        results[index] = ids


def test_two_consumer_threads_share_a_queue_without_doubles(backend, transport):
    sent = [msg(i) for i in range(400)]
    transport.publish(sent)
    results: list = [None, None]
    threads = [threading.Thread(target=_consume_in_thread, args=(backend, results, i)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    both = results[0] + results[1]
    assert len(both) == len(set(both)) == 400
    assert set(both) == {m.message_id for m in sent}


def _consume_in_process(url: str, routes, queue: str, out, ready) -> None:
    from hub.transports import open_transport

    ids: list[str] = []
    with open_transport(url, routes=routes) as mine:
        ready.release()
        mine.consume(queue, lambda d: (ids.append(d.message.message_id), time.sleep(0.002)),
                     prefetch=10, idle_timeout=3.0)
    out.put(ids)


def test_two_consumer_processes_share_a_queue_without_doubles(backend, transport):
    sent = [msg(i) for i in range(600)]
    context = multiprocessing.get_context("spawn")  # a forked child would share our broker socket
    out, ready = context.Queue(), context.Semaphore(0)
    workers = [context.Process(target=_consume_in_process,
                               args=(backend.url, backend.routes, backend.queue, out, ready)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert ready.acquire(timeout=30)
    transport.publish(sent)
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
    both = results[0] + results[1]
    assert len(both) == len(set(both)) == 600
    assert all(results), "both processes should have taken a share"


def test_messages_survive_reopening_the_transport(backend):
    sent = [msg(i) for i in range(50)]
    with backend.open() as first:
        first.publish(sent)
    with backend.open() as second:
        got = drain(second, backend.queue)
    assert sorted(d.message.message_id for d in got) == sorted(m.message_id for m in sent)


def test_crash_before_ack_redelivers_with_the_same_attempt(backend):
    sent = msg(1)
    with backend.open(**({"visibility_timeout": 0.5} if backend.name == "sqlite" else {})) as first:
        first.publish([sent])

        def die(delivery: Delivery) -> None:
            raise Crash()

        with pytest.raises(Crash):
            first.consume(backend.queue, die)
    with backend.open() as second:
        got = drain(second, backend.queue, idle=2.0)
    assert [(d.message.message_id, d.attempt, d.redelivered) for d in got] == [(sent.message_id, 1, True)]


# -- the registry and routes (no backend needed) -------------------------------------------------


def test_unknown_scheme_suggests_the_closest(tmp_path):
    from hub.errors import ConfigError
    from hub.transports import open_transport

    with pytest.raises(ConfigError, match="did you mean 'amqp'"):
        open_transport("amqpp://localhost/")
    with pytest.raises(ConfigError, match="no scheme"):
        open_transport("var/broker.sqlite3")


def test_pika_loads_only_for_amqp(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from hub.transports import open_transport; "
            f"open_transport('sqlite:///{tmp_path}/b.db').close(); print('pika' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_routes_come_from_data(tmp_path):
    from hub.errors import ConfigError
    from hub.routing import load_routes, routing_key

    routes = load_routes()
    assert routes.exchange == "rabt.canonical"
    assert {"licensing", "police", "commerce", "insurance", "centralbank", "courts"} <= {q.name for q in routes.queues}
    assert all(q.binding == f"{q.name}.#" for q in routes.queues)
    assert routing_key("licensing", "IncomeRecord", "insurance") == "licensing.IncomeRecord.insurance"
    with pytest.raises(ConfigError, match="destination"):
        routing_key("lic.ensing", "IncomeRecord", "insurance")
    bad = tmp_path / "routes.toml"
    bad.write_text('destinations = ["a b"]\n')
    with pytest.raises(ConfigError, match="routes file"):
        load_routes(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_routes(tmp_path / "missing.toml")


def test_consuming_an_undeclared_queue_is_a_hub_error(backend, transport):
    from hub.errors import RabtError

    with pytest.raises(RabtError, match="no-such-queue"):
        transport.consume("no-such-queue", lambda d: None, idle_timeout=0.2)
    transport.publish([msg(1)])  # the transport still works afterwards
    assert len(drain(transport, backend.queue, idle=0.5)) == 1


def test_library_errors_are_translated_at_the_boundary(tmp_path):
    from hub.errors import BrokerUnavailableError, ConfigError
    from hub.transports import open_transport

    with open_transport("amqp://guest:guest@127.0.0.1:1/", reconnect_timeout=0.3) as dead:
        with pytest.raises(BrokerUnavailableError, match="unreachable"):
            dead.publish([msg(1)])
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot open the sqlite broker"):
        open_transport(f"sqlite:///{tmp_path}/file/broker.sqlite3")


def test_an_idle_transport_stays_connected_and_stops_waiting_when_told(backend):
    # The outbox relay waits through quiet minutes with idle(). On RabbitMQ that wait must answer
    # heartbeats, or the broker drops the connection; a 1 s heartbeat makes 4 s of idling prove it.
    url = backend.url + ("?heartbeat=1" if backend.name == "amqp" else "")
    with open_transport(url, routes=backend.routes, **backend.opts) as transport:
        transport.publish([msg(1)])
        generation = getattr(transport, "generation", None)
        stop = threading.Event()
        transport.idle(4, stop)
        transport.publish([msg(2)])
        assert getattr(transport, "generation", None) == generation  # the same connection, not a new one
        threading.Timer(0.2, stop.set).start()
        transport.idle(60, stop)  # returns when told, not after a minute
        assert stop.is_set()
        assert len(drain(transport, backend.queue, idle=0.5)) == 2


def test_undeclare_removes_queues_messages_and_dead_letters(backend, transport):
    transport.publish([msg(i) for i in range(3)])
    transport.consume(backend.queue, lambda d: (_ for _ in ()).throw(ValueError("x")), max_messages=1)
    transport.undeclare(backend.routes)
    transport.declare(backend.routes)
    stats = {s.name: s for s in transport.queue_stats()}
    assert (stats[backend.queue].ready, stats[backend.queue].dead_letters) == (0, 0)
    assert transport.dead_letters() == []


def test_capabilities_name_exactly_the_options_the_constructor_takes(backend):
    from hub.transports import Administration, MessagePath, transport_class

    capabilities = transport_class(backend.url).capabilities
    optional = {"reconnect_timeout": 2.0, "connection_name": f"rabt-caps-{uuid.uuid4().hex[:6]}"}
    taken = {name: value for name, value in optional.items() if getattr(capabilities, name)}
    with backend.open(**taken) as opened:
        assert isinstance(opened, MessagePath) and isinstance(opened, Administration)
        opened.publish([msg("caps")])
        assert [d.message.body for d in drain(opened, backend.queue, idle=0.5)] == [b"<m n='caps'/>"]
    for name in optional.keys() - taken.keys():
        with pytest.raises(TypeError):
            backend.open(**{name: optional[name]})
    assert capabilities.shared_server == (backend.name == "amqp")  # a file of its own needs no prefix
