"""The benchmarks' lean HTTP client (``benchmarks/lean_http.py``, ``lean_loop.py``) against a real waitress.

The load generators of ``end_to_end.py`` read the hub's answers with their own minimal
parser, so it is checked here on what a real server sends: keep-alive, Content-Length,
a 500 fault, a chunked body, a connection closed mid-answer, one closed while idle.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from waitress import create_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from end_to_end_load import KeepAliveSender
from end_to_end_visa import BUSY, VisaPath, hub_answer, open_loop
from lean_http import AnswerError, Connection, prepared_request
from lean_loop import Exchanges, closed_loop

pytestmark = pytest.mark.timeout(60)

BUSY_FAULT = (b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body><soap:Fault>"
              b"<faultcode>soap:Server.Busy</faultcode><faultstring>too many waiting</faultstring>"
              b"</soap:Fault></soap:Body></soap:Envelope>")


def app(environ, start_response):
    """Answers by path: the request's body and the client's port back, a fault, chunks, or a broken promise."""
    path, body = environ["PATH_INFO"], environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    port = ("X-Client-Port", environ["REMOTE_PORT"])
    if path == "/fault":
        start_response("500 Internal Server Error", [("Content-Type", "text/xml"), ("Content-Length", str(len(BUSY_FAULT))), port])
        return [BUSY_FAULT]
    if path == "/chunked":  # no Content-Length: waitress sends it in chunks on HTTP/1.1
        start_response("200 OK", [("Content-Type", "text/plain"), port])
        return iter([b"first;", b"", b"second;" * 500, b"third"])
    if path == "/short":  # promises 100 bytes, gives 10: waitress sends them and closes the connection
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100"), port])
        return [b"0123456789"]
    if path == "/healthz":
        start_response("200 OK", [("Content-Length", "2"), ("X-Rabt-Process", "4242"), port])
        return [b"ok"]
    answer = b"<r:Receipt><r:HubMessageId>" + body + b"</r:HubMessageId></r:Receipt>"
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(answer))), port])
    return [answer]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    served = create_server(app, host="127.0.0.1", port=0, threads=4, asyncore_use_poll=True)
    serving = threading.Thread(target=served.run, daemon=True)
    serving.start()
    yield "127.0.0.1", int(served.effective_port)
    served.close()
    serving.join(timeout=10)


def post(server: tuple[str, int], path: str, body: bytes = b"") -> bytes:
    return prepared_request("POST", *server, path, body, {"Content-Type": "text/xml"})


def test_answers_come_one_after_another_on_one_keep_alive_connection(server):
    connection = Connection(*server, timeout=10)
    try:
        first = connection.exchange(post(server, "/soap/police", b"one"))
        second = connection.exchange(post(server, "/soap/police", b"two" * 3000))
    finally:
        connection.close()
    assert (first.status, first.body) == (200, b"<r:Receipt><r:HubMessageId>one</r:HubMessageId></r:Receipt>")
    assert second.body == b"<r:Receipt><r:HubMessageId>" + b"two" * 3000 + b"</r:HubMessageId></r:Receipt>"
    assert int(second.headers["content-length"]) == len(second.body)
    assert first.keep_alive and second.keep_alive
    assert first.headers["x-client-port"] == second.headers["x-client-port"]  # one connection carried both


def test_a_500_fault_is_read_whole_and_the_connection_kept(server):
    connection = Connection(*server, timeout=10)
    try:
        fault = connection.exchange(post(server, "/fault"))
        after = connection.exchange(post(server, "/soap/police", b"next"))
    finally:
        connection.close()
    assert (fault.status, fault.body) == (500, BUSY_FAULT)
    assert hub_answer(fault, eligible=True) == BUSY
    assert after.status == 200 and after.headers["x-client-port"] == fault.headers["x-client-port"]


def test_a_chunked_answer_is_read_whole(server):
    connection = Connection(*server, timeout=10)
    try:
        answer = connection.exchange(prepared_request("GET", *server, "/chunked"))
        after = connection.exchange(prepared_request("GET", *server, "/healthz"))
    finally:
        connection.close()
    assert answer.headers["transfer-encoding"] == "chunked" and "content-length" not in answer.headers
    assert answer.body == b"first;" + b"second;" * 500 + b"third"
    # waitress ends a chunked answer with "Connection: close": the next request goes on a new connection
    assert answer.headers["connection"] == "close" and not answer.keep_alive
    assert after.body == b"ok" and after.headers["x-client-port"] != answer.headers["x-client-port"]


def test_a_connection_closed_mid_answer_is_a_clear_error_not_retried(server):
    connection = Connection(*server, timeout=10)
    try:
        connection.exchange(prepared_request("GET", *server, "/healthz"))  # reused next: a retry would be possible
        with pytest.raises(AnswerError, match=r"closed the connection after 10 of the answer's 100 body bytes \(HTTP 200\)"):
            connection.exchange(prepared_request("GET", *server, "/short"))
        assert connection.sock is None
        assert connection.exchange(prepared_request("GET", *server, "/healthz")).body == b"ok"  # opened again
    finally:
        connection.close()


def one_answer_per_connection(listener: socket.socket, bodies: list[bytes], accepted: list) -> threading.Thread:
    """A server thread answering one request on each of ``len(bodies)`` connections, then closing it unannounced."""
    def serve() -> None:
        for body in bodies:
            peer, _ = listener.accept()
            accepted.append(peer)
            request = b""
            while b"\r\n\r\n" not in request:
                request += peer.recv(4096)
            peer.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            peer.close()

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    return serving


def test_a_keep_alive_connection_the_server_closed_while_idle_is_opened_again_once():
    """A server that closes every connection after one answer, without saying so: the next request retries."""
    listener, accepted = socket.create_server(("127.0.0.1", 0)), []
    serving = one_answer_per_connection(listener, [b"hello", b"hello"], accepted)
    host, port = listener.getsockname()
    connection = Connection(host, port, timeout=10)
    try:
        answers = [connection.exchange(prepared_request("GET", host, port, "/")) for _ in range(2)]
    finally:
        connection.close()
        serving.join(timeout=10)
        listener.close()
    assert [a.body for a in answers] == [b"hello", b"hello"]
    assert len(accepted) == 2


def test_an_answer_that_is_not_http_is_refused():
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        peer, _ = listener.accept()
        peer.recv(4096)
        peer.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        peer.close()

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    host, port = listener.getsockname()
    connection = Connection(host, port, timeout=10)
    try:
        with pytest.raises(AnswerError, match="not an HTTP/1.x answer: 'SSH-2.0-OpenSSH_9.2'"):
            connection.exchange(prepared_request("GET", host, port, "/"))
    finally:
        connection.close()
        serving.join(timeout=10)
        listener.close()


def test_the_loop_answers_every_request_over_its_few_connections(server):
    answered: dict[bytes, tuple[bytes, str, int]] = {}

    def done(flight, result):
        assert not isinstance(result, Exception), result
        answered[flight.request.rsplit(b"\r\n\r\n", 1)[1]] = (result.body, result.headers["x-client-port"], flight.alongside)

    requests = [post(server, "/soap/police", f"m{i}".encode()) for i in range(40)]
    with Exchanges(*server, limit=3, timeout=10) as exchanges:
        closed_loop(exchanges, requests, 3, done)
    assert sorted(answered) == sorted(f"m{i}".encode() for i in range(40))
    assert all(body == b"<r:Receipt><r:HubMessageId>" + sent + b"</r:HubMessageId></r:Receipt>"
               for sent, (body, _, _) in answered.items())
    assert len({port for _, port, _ in answered.values()}) == 3
    assert max(alongside for _, _, alongside in answered.values()) == 3


def test_the_loop_reports_a_connection_closed_mid_answer_and_carries_on(server):
    results = []
    with Exchanges(*server, limit=1, timeout=10) as exchanges:
        for path in ("/healthz", "/short", "/healthz"):
            exchanges.start(prepared_request("GET", *server, path), lambda _flight, result: results.append(result))
        exchanges.drain()
    assert results[0].body == b"ok" and results[2].body == b"ok"
    assert isinstance(results[1], AnswerError) and "after 10 of the answer's 100 body bytes" in str(results[1])
    assert results[0].headers["x-client-port"] != results[2].headers["x-client-port"]  # the broken one replaced


def test_the_push_sender_checks_every_answer_and_counts_them_by_process(server):
    host, port = server
    sender = KeepAliveSender(f"http://{host}:{port}")
    requests = sender.prepared([f"id-{i}".encode() for i in range(30)])
    requests[7] = prepared_request("POST", host, port, "/fault", b"", {"Content-Type": "text/xml"})
    with sender.connections(4) as connections:
        errors = sender.push_all(connections, requests)
    assert len(errors) == 1 and errors[0].startswith("RuntimeError: HTTP 500, not the answer expected")
    assert sender.per_process == {"4242": 29}


def test_the_open_loop_counts_busy_faults_apart_from_answers_and_errors(server):
    host, port = server
    flag = re.compile(rb"HubMessageId>(\w+)<")
    requests = [post(server, "/fault") if i % 4 == 0 else post(server, "/soap/police", b"yes" if i % 4 != 3 else b"bad")
                for i in range(24)]

    def check(i, answer):
        verdict = hub_answer(answer, eligible=True) if answer.status != 200 else None
        if verdict is None and flag.search(answer.body)[1] != b"yes":
            raise RuntimeError(f"request {i} answered no")
        return verdict

    with Exchanges(host, port, limit=5, timeout=10) as exchanges:
        outcome = open_loop(VisaPath(exchanges, requests, check), 0, 24, rate=200.0)
    assert (len(outcome.latencies), outcome.busy, len(outcome.errors)) == (12, 6, 6)
    assert all(error.startswith("RuntimeError: request ") for error in outcome.errors)
    assert len(outcome.lag) == 18 and all(lag >= 0 for lag in outcome.lag)
    assert len(outcome.in_flight) == 24 and 1 <= max(outcome.in_flight) <= 5


def test_the_loop_gives_up_on_a_server_that_never_answers():
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    results = []
    try:
        with Exchanges(host, port, limit=2, timeout=0.5) as exchanges:
            exchanges.start(prepared_request("GET", host, port, "/"), lambda _flight, result: results.append(result))
            exchanges.drain()
    finally:
        listener.close()
    assert len(results) == 1 and isinstance(results[0], TimeoutError)
    assert str(results[0]) == "no whole answer in 0.5 s"


def test_the_loop_carries_on_when_the_server_closes_each_connection_after_one_answer():
    """Seen closing while idle (then opened again when next used), or found closed on reuse (then retried)."""
    listener, accepted = socket.create_server(("127.0.0.1", 0)), []
    host, port = listener.getsockname()
    serving = one_answer_per_connection(listener, [b"0", b"1", b"2"], accepted)
    bodies = []
    try:
        with Exchanges(host, port, limit=1, timeout=10) as exchanges:
            for _ in range(3):
                exchanges.start(prepared_request("GET", host, port, "/"), lambda _f, result: bodies.append(result.body))
                exchanges.drain()
    finally:
        serving.join(timeout=10)
        listener.close()
    assert bodies == [b"0", b"1", b"2"] and len(accepted) == 3
