"""The embedded broker's request/reply: waiting for an answer reads, it does not write."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from hub.errors import ReplyTimeoutError
from hub.routing import load_routes
from hub.transports.base import Message
from hub.transports.sqlite import SqliteTransport


def question(correlation_id: str) -> Message:
    return Message(b"<q/>", "licensing.VisaEligibilityQuery.hub", f"q-{correlation_id}", correlation_id)


def test_polls_without_an_answer_only_read_and_a_late_answer_goes_with_the_next(tmp_path):
    routes, path = load_routes().with_prefix("polls."), tmp_path / "broker.sqlite3"
    with SqliteTransport(f"sqlite:///{path}", routes=routes) as transport:
        transport.declare(routes)
        statements: list[str] = []
        transport._conn().set_trace_callback(statements.append)  # this thread's connection, which request uses
        with pytest.raises(ReplyTimeoutError):
            transport.request(question("unanswered"), timeout=0.2)
        transport._conn().set_trace_callback(None)
        polls = statements[statements.index("COMMIT") + 1:]  # after the question's publish
        assert len(polls) >= 2 and all(s.startswith("SELECT") for s in polls)

        answer_both = threading.Thread(target=_answer, args=(transport, routes, 2))
        answer_both.start()  # the timed-out question answered late, then the next one
        try:
            assert transport.request(question("answered"), timeout=10).message_id == "r-q-answered"
        finally:
            answer_both.join(10)
    with sqlite3.connect(path) as conn:
        left = conn.execute("SELECT COUNT(*) FROM messages WHERE queue LIKE 'reply.%'").fetchone()[0]
    assert left == 0


def _answer(transport: SqliteTransport, routes, count: int) -> None:
    transport.consume(routes.queue_for("licensing"), lambda delivery: transport.reply(
        delivery, Message(b"<a/>", "police.R.licensing", f"r-{delivery.message.message_id}")),
        max_messages=count, idle_timeout=5)
