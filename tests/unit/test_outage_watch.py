"""Outages are waited out forever and told once per state change; /readyz and SOAP faults say so."""

from __future__ import annotations

import logging
import threading

import pytest

from hub.console.health import create_metrics_app, probed, with_outages
from hub.console.users import Users
from hub.errors import BrokerUnavailableError, MessageLogError, MessageLogUnavailableError, PublishError
from hub.gateway.faults import soap_fault
from hub.outage import Outages, Pause, Watch, keep_consuming


def test_a_watch_logs_one_line_when_the_dependency_goes_and_one_when_it_is_back(caplog):
    outages = Outages()
    watch = Watch("relay", "broker", outages=outages, pause=Pause(first=0.5, cap=2.0))
    with caplog.at_level(logging.INFO, logger="hub.outage"):
        pauses = [watch.failed(BrokerUnavailableError("connect: [Errno 111] Connection refused")) for _ in range(5)]
        assert outages.current() == {"broker": "relay: broker unreachable: connect: [Errno 111] Connection refused"}
        watch.succeeded()
        watch.succeeded()
    assert pauses == [0.5, 1.0, 2.0, 2.0, 2.0]  # doubling, capped, never giving up
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0] == ("relay: broker unreachable: connect: [Errno 111] Connection refused; "
                        "retrying until it is back")
    assert lines[1].startswith("relay: broker reachable again after ") and lines[1].endswith(" s")
    assert [r.event for r in caplog.records] == ["relay-broker.unreachable", "relay-broker.reachable"]
    assert outages.current() == {}
    assert watch.failed(BrokerUnavailableError("again")) == 0.5  # a new outage starts from the first pause


def test_a_part_s_watch_names_only_its_dependency_and_leaves_the_register_to_the_loops(caplog):
    """The file drop's folders, the transport's broker: one line each way, "unreachable" whatever failed."""
    outages, now = Outages(), [10.0]
    folders = Watch(None, "file drop: folders", outages=outages, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="hub.outage"):
        for _ in range(3):
            folders.failed(PermissionError(13, "Permission denied"))
            now[0] += 0.5
        assert folders.down and outages.current() == {}
        folders.succeeded()
        folders.succeeded()
    assert [(r.levelname, r.getMessage(), r.event) for r in caplog.records] == [
        ("WARNING", "file drop: folders unreachable: [Errno 13] Permission denied", "file-drop-folders.unreachable"),
        ("INFO", "file drop: folders reachable again after 1.5 s", "file-drop-folders.reachable")]
    assert not folders.down and outages.current() == {}


def test_an_outage_of_thousands_of_tries_keeps_pausing_at_the_cap():
    """2 ** 1024 overflows a float: the pause must not, however long the outage (the file drop tries twice a second)."""
    watch = Watch("relay", "broker", outages=Outages(), pause=Pause(first=0.5, cap=15.0))
    pauses = [watch.failed(BrokerUnavailableError("down")) for _ in range(5000)]
    assert max(pauses) == pauses[-1] == 15.0 and watch.failures == 5000


def test_outages_of_several_roles_are_listed_together_and_end_separately():
    outages = Outages()
    relay, worker = (Watch(role, "broker", outages=outages) for role in ("relay", "worker-police"))
    relay.failed(BrokerUnavailableError("down"))
    worker.failed(PublishError("1 message(s) not delivered: m1: unroutable"))
    assert outages.current() == {"broker": "relay: broker unreachable: down; "
                                           "worker-police: broker failing: 1 message(s) not delivered: m1: unroutable"}
    relay.succeeded()
    assert list(outages.current()) == ["broker"]
    worker.clear()
    assert outages.current() == {}


class FlakyTransport:
    """Refuses ``down`` connects, then consumes until stopped; records what happened."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.connects = 0
        self.consumed = threading.Event()

    def connect(self) -> None:
        self.connects += 1
        if self.connects <= self.down:
            raise BrokerUnavailableError(f"refused (try {self.connects})")

    def consume(self, stop: threading.Event) -> int:
        self.consumed.set()
        stop.wait()
        return 7


def test_keep_consuming_outlives_an_outage_then_consumes_until_stopped(caplog):
    transport, stop, outages = FlakyTransport(down=4), threading.Event(), Outages()
    watch = Watch("licensing", "broker", outages=outages, pause=Pause(first=0.01, cap=0.02))
    result = []
    with caplog.at_level(logging.INFO, logger="hub.outage"):
        thread = threading.Thread(target=lambda: result.append(
            keep_consuming(transport, lambda: transport.consume(stop), stop, watch)))
        thread.start()
        assert transport.consumed.wait(5)
        assert outages.current() == {}  # back: no longer reported
        stop.set()
        thread.join(5)
    assert result == [7] and transport.connects == 5
    assert [r.getMessage().split(":")[1].strip() for r in caplog.records] == ["broker unreachable",
                                                                            "broker reachable again after 0 s"]


def test_keep_consuming_returns_at_once_when_stopped_during_an_outage():
    transport, stop = FlakyTransport(down=10**6), threading.Event()
    watch = Watch("licensing", "broker", outages=Outages(), pause=Pause(first=30, cap=30))
    thread = threading.Thread(target=keep_consuming, args=(transport, lambda: 0, stop, watch))
    thread.start()
    while transport.connects == 0:
        thread.join(0.01)
    stop.set()  # SIGTERM during a 30 s pause
    thread.join(2)
    assert not thread.is_alive()


def test_readiness_adds_the_loops_outages_under_the_check_they_concern():
    outages = Outages()
    Watch("relay", "message log", outages=outages).failed(MessageLogUnavailableError("connection refused"))
    console = {"ready": True, "checks": {"database": {"ok": True, "error": None},
                                         "broker": {"ok": True, "error": None}}}
    result = with_outages(console, outages)
    assert result["ready"] is False
    assert result["checks"]["database"] == {"ok": False,
                                            "error": "relay: message log unreachable: connection refused"}
    assert result["checks"]["broker"]["ok"] is True
    assert probed({"broker": lambda: "broker unreachable for 2s: refused"})["ready"] is False


def test_the_metrics_endpoint_says_not_ready_with_the_probe_s_reason(tmp_path):
    down = {"broker": "connect: broker unreachable for 2s: [Errno 111] Connection refused"}
    app = create_metrics_app(Users.load(tmp_path / "users.toml"), {
        "broker": lambda: down.get("broker"), "database": lambda: None})
    client = app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["broker"] == {"ok": False, "error": down["broker"]}
    down.clear()
    assert client.get("/readyz").status_code == 200


def test_an_unreachable_message_log_is_a_retryable_fault_that_names_no_internals():
    error = MessageLogUnavailableError("message log could not store: connection to server at 10.0.0.5 failed")
    fault = soap_fault(error, None)
    assert fault.code == "Server.Unavailable"
    assert "10.0.0.5" not in fault.text and "again later" in fault.text
    assert error.recoverable
    assert soap_fault(MessageLogError("no such message"), None).code == "Server"


def test_a_database_outage_is_told_apart_from_a_bad_statement(tmp_path):
    import sqlalchemy as sa

    from hub.messagelog import db

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}")
    with pytest.raises(MessageLogError) as bad:
        with db.translated("read"), engine.connect() as conn:
            conn.execute(sa.text("SELEC 1"))
    assert not isinstance(bad.value, MessageLogUnavailableError)
    # a file that cannot be opened is what a refused connection is to PostgreSQL (that one runs in the
    # integration test through a cut proxy)
    (tmp_path / "dir.sqlite3").mkdir()
    gone = sa.create_engine(f"sqlite:///{tmp_path / 'dir.sqlite3'}")
    with pytest.raises(MessageLogUnavailableError, match="could not read"):
        with db.translated("read"), gone.connect() as conn:
            conn.execute(sa.text("SELECT 1"))


def test_an_unreachable_rabbitmq_is_one_line_naming_the_socket_s_reason_with_no_pika_lines(caplog):
    from hub.transports import open_transport

    with caplog.at_level(logging.DEBUG), open_transport("amqp://guest:guest@127.0.0.1:1/",
                                                        reconnect_timeout=0.3) as transport:
        with pytest.raises(BrokerUnavailableError) as refused:
            transport.connect()
    assert str(refused.value) == "connect: broker unreachable for 0.3s: [Errno 111] Connection refused"
    assert [r for r in caplog.records if r.name.startswith("pika")] == []


def test_threads_sharing_a_watch_tell_an_outage_once(caplog):
    watch, start = Watch("licensing", "broker", outages=Outages()), threading.Barrier(8)

    def one_thread() -> None:
        start.wait()
        for _ in range(50):
            watch.failed(BrokerUnavailableError("refused"))
        start.wait()
        watch.succeeded()

    with caplog.at_level(logging.INFO, logger="hub.outage"):
        threads = [threading.Thread(target=one_thread) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
    assert [r.getMessage().split(":")[1].strip() for r in caplog.records] == ["broker unreachable",
                                                                            "broker reachable again after 0 s"]
    assert watch.failures == 0
