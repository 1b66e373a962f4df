"""``rabt serve`` refuses oversize request bodies before storing them anywhere.

waitress buffers a request's whole body (by default up to 1 GiB, spooled to a
temporary file) before the app sees it, so the gateway's own size check alone
would let anyone fill the disk. Real processes and raw sockets on 127.0.0.1,
with the XML limit set to 64 KiB.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from hub import lifeline
from simulators.demo.ports import free_port

LIMIT = 64 * 1024
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(gateway URL, console URL) of ``rabt serve --role gateway --role console``."""
    home = tmp_path_factory.mktemp("serve-limits")
    env = {**os.environ, "RABT_HOME": str(home), "RABT_XML_MAX_BYTES": str(LIMIT),
           "RABT_BROKER_URL": f"sqlite:///{home / 'broker.sqlite3'}"}
    subprocess.run([sys.executable, "-m", "hub", "pki", "init"], env=env, check=True, capture_output=True)
    gateway, console = free_port(), free_port()
    with open(home / "serve.log", "wb") as log:
        process = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "gateway", "--role", "console",
                                  "--gateway-port", str(gateway), "--console-port", str(console)],
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
    urls = (f"http://127.0.0.1:{gateway}", f"http://127.0.0.1:{console}")
    try:
        for url in urls:
            wait_until_up(url, process)
        yield urls
    finally:
        process.terminate()
        assert process.wait(30) == 0, (home / "serve.log").read_text()


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "rabt serve exited"
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # the port may queue connections before a process serves
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def exchange(url: str, request: bytes) -> bytes:
    """Send ``request`` as is and read the answer until the server closes or 10 s pass."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"Connection: close" not in answer and b"</" in answer:
                break
        return answer


def post_head(path: str, *headers: str) -> bytes:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: text/xml", *headers, "", ""]).encode()


def test_a_declared_oversize_body_is_refused_before_it_is_sent(served):
    gateway, _ = served
    # Only the headers go out: an answer proves the gateway did not wait for (or keep) the 3 × 64 KiB.
    answer = exchange(gateway, post_head("/soap/police", f"Content-Length: {3 * LIMIT}"))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert f"exceeds max_body of {2 * LIMIT}".encode() in answer


def test_a_chunked_body_is_cut_off_once_it_passes_the_cap(served):
    gateway, _ = served
    # Exactly the cap (framing counts) and no last chunk: the answer can only come from the
    # cut-off, and the server has read all that was sent, so closing does not reset the
    # connection under its answer.
    full = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    body = full * 7
    rest = 2 * LIMIT - len(body) - len(b"3fc0\r\n\r\n")
    assert rest == 0x3FC0
    body += b"3fc0\r\n" + b"x" * rest + b"\r\n"
    assert len(body) == 2 * LIMIT
    answer = exchange(gateway, post_head("/soap/police", "Transfer-Encoding: chunked") + body)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert f"exceeds max_body of {2 * LIMIT}".encode() in answer


def test_a_body_a_little_over_the_limit_still_gets_a_soap_fault_naming_it(served):
    gateway, _ = served
    request = b"<x>" + b"y" * (LIMIT + LIMIT // 2) + b"</x>"
    reply = requests.post(f"{gateway}/soap/police", data=request, headers={"Content-Type": "text/xml"}, timeout=10)
    assert reply.status_code == 500 and b"Client.Parse" in reply.content
    assert f"request is {len(request)} bytes, over the limit of {LIMIT}".encode() in reply.content


def test_the_console_takes_no_large_bodies_either(served):
    _, console = served
    answer = exchange(console, post_head("/login", "Content-Length: 2097152"))
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert requests.get(f"{console}/healthz", timeout=5).status_code == 200  # and goes on serving
