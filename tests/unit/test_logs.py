"""Log lines an operator's collector can read: JSON per line, roles and ids, passwords masked, outages in two lines."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest

from hub.errors import SignatureError
from hub.logs import configure_logging
from hub.outage import Watch
from hub.redact import redact_text, redact_url


@pytest.fixture
def restore_logging():
    """configure_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    pika_level = logging.getLogger("pika").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("pika").setLevel(pika_level)


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_role_agency_message_id_and_event(restore_logging):
    stream = io.StringIO()
    configure_logging("worker", "json", stream=stream)
    log = logging.getLogger("hub.test")

    log.info("called %s", "police", extra={"agency": "police", "message_id": "m-1", "event": "agency.called"})
    try:
        raise SignatureError("digest mismatch", message_id="m-2", agency="courts")
    except SignatureError:
        log.exception("refused\nwith a second line")
    relay = threading.Thread(target=lambda: log.warning("from a served role"), name="rabt-relay")
    relay.start()
    relay.join()

    called, refused, from_role = (json.loads(line) for line in _lines(stream))  # exactly three lines
    assert called["role"] == "worker" and called["agency"] == "police" and called["message_id"] == "m-1"
    assert called["event"] == "agency.called" and called["level"] == "info" and called["message"] == "called police"
    assert called["time"].endswith("+00:00") and called["logger"] == "hub.test"
    assert (refused["agency"], refused["message_id"], refused["event"]) == ("courts", "m-2", "error.signature")
    assert refused["error"].startswith("SignatureError: digest mismatch")
    assert "Traceback" in refused["traceback"] and refused["message"] == "refused\nwith a second line"
    assert from_role["role"] == "relay" and from_role["agency"] is None


def test_text_is_the_default_and_no_password_reaches_either_format(restore_logging):
    lines = []
    for log_format in ("text", "json"):
        stream = io.StringIO()
        configure_logging("serve", log_format, stream=stream)
        logging.getLogger("hub.test").warning("broker amqp://hub:s3cret@mq.example:5672/ is slow")
        lines += _lines(stream)
    text, as_json = lines
    assert text.split(" ", 2)[2] == "WARNING serve hub.test: broker amqp://hub:***@mq.example:5672/ is slow"
    assert json.loads(as_json)["message"] == "broker amqp://hub:***@mq.example:5672/ is slow"
    assert "s3cret" not in text + as_json
    stream = io.StringIO()
    configure_logging("serve", stream=stream)  # no format named: text
    logging.getLogger("hub.test").info("once")
    assert _lines(stream)[0].split(" ", 2)[2] == "INFO serve hub.test: once"


def test_configuring_twice_does_not_double_lines_and_pika_is_kept_quiet(restore_logging):
    configure_logging("serve", "text", stream=io.StringIO())
    stream = io.StringIO()
    configure_logging("serve", "json", stream=stream)
    logging.getLogger("hub.test").info("one line")
    logging.getLogger("pika.adapters.blocking_connection").error("Error in _create_connection().")
    assert len(_lines(stream)) == 1
    with pytest.raises(ValueError, match="log format must be one of text, json"):
        configure_logging("serve", "xml")


def test_an_outage_of_many_failed_tries_is_two_lines(restore_logging):
    stream = io.StringIO()
    configure_logging("relay", "json", stream=stream)
    now = [100.0]
    # a part's watch (the transport's on its broker): no role, so no prefix and no entry in the register
    state = Watch(None, "broker amqp://hub:s3cret@mq/", logger=logging.getLogger("hub.outbox"),
                  clock=lambda: now[0])

    state.succeeded()  # up from the start: nothing to say
    for _ in range(500):
        state.failed(ConnectionRefusedError(111, "Connection refused"))
        now[0] += 0.1
    state.succeeded()
    state.succeeded()

    away, back = (json.loads(line) for line in _lines(stream))
    assert (away["event"], back["event"]) == ("broker.unreachable", "broker.reachable")  # no URL in the name
    assert away["level"] == "warning" and "Connection refused" in away["message"] and "s3cret" not in away["message"]
    assert back["level"] == "info" and back["message"].endswith("reachable again after 50.0 s")
    assert not state.down


@pytest.mark.parametrize(("url", "shown"), [
    ("amqp://guest:guest@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
    ("postgresql://rabt:p@ss:w0rd@db.example/rabt?sslmode=require",
     "postgresql://rabt:***@db.example/rabt?sslmode=require"),
    ("amqps://hub@mq.example/", "amqps://hub@mq.example/"),
    ("sqlite:////var/lib/rabt/broker.sqlite3", "sqlite:////var/lib/rabt/broker.sqlite3"),
    ("http://127.0.0.1:8000/soap/police", "http://127.0.0.1:8000/soap/police"),
])
def test_a_url_keeps_everything_but_its_password(url, shown):
    assert redact_url(url) == shown


def test_passwords_inside_free_text_are_masked():
    text = ("could not connect to postgresql://rabt:hunter2@db/rabt (host=db password=hunter2 port=5432); "
            "broker amqp://u:x@y@mq:5672/v at http://127.0.0.1:8000/healthz")
    masked = redact_text(text)
    assert "hunter2" not in masked and "x@y" not in masked
    assert "postgresql://rabt:***@db/rabt" in masked and "password=***" in masked
    assert "amqp://u:***@mq:5672/v" in masked and "http://127.0.0.1:8000/healthz" in masked
