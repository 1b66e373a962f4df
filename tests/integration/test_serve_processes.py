"""``rabt serve --processes 2``: two gateway processes on one port, kept alive by their master.

The real command on 127.0.0.1 with the embedded broker. Each ``/healthz``
answer names the process that gave it (``X-Rabt-Process``); the processes'
parents are read from ``/proc``. The connection limits are made small
(100 per process, 20 per client address) so that 200 idle half-sent
connections would fill both processes if the per-address gate did not turn
most of them away.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub import lifeline
from simulators.demo.ports import free_port
from simulators.police.client import BORDER_NS, PoliceClient, new_msg_id, police_signer
from simulators.population import Population, PopulationSpec

pytestmark = pytest.mark.timeout(180)

PER_CLIENT = 20
PROCESSES = 2
HANGERS = 200
#: the source address of the idle clients: another host, as far as the gateway can tell
OTHER_CLIENT = "127.0.0.2"


class Served:
    """The running master, its port and home."""

    def __init__(self, process: subprocess.Popen, port: int, home: Path) -> None:
        self.process, self.port, self.home = process, port, home
        self.url = f"http://127.0.0.1:{port}"

    def log(self) -> str:
        return (self.home / "serve.log").read_text()

    def children(self) -> set[int]:
        """Process ids whose parent is the master."""
        return {pid for pid in _all_pids() if _parent(pid) == self.process.pid}

    def answering_pids(self, connections: int = 16) -> set[int]:
        """Which processes answered ``connections`` ``/healthz`` requests opened all at once."""
        sockets = [socket.create_connection(("127.0.0.1", self.port), timeout=10) for _ in range(connections)]
        try:
            for conn in sockets:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return {_answering_pid(_read_all(conn)) for conn in sockets}
        finally:
            for conn in sockets:
                conn.close()


def _all_pids() -> Iterator[int]:
    return (int(name) for name in os.listdir("/proc") if name.isdigit())


def _parent(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None  # gone meanwhile
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))


def _read_all(conn: socket.socket) -> bytes:
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


def _answering_pid(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    [header] = [line for line in answer.split(b"\r\n") if line.lower().startswith(b"x-rabt-process:")]
    return int(header.split(b":")[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("serve-processes")
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": f"sqlite:///{home / 'broker.sqlite3'}",
           "RABT_GATEWAY_CONNECTION_LIMIT": "100", "RABT_GATEWAY_CLIENT_CONNECTION_LIMIT": str(PER_CLIENT),
           "RABT_GATEWAY_IDLE_TIMEOUT": "20"}
    subprocess.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "police", "--agency", "licensing"],
                   env=env, check=True, capture_output=True)
    port = free_port()
    with open(home / "serve.log", "wb") as log:
        process = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "gateway", "--processes",
                                  str(PROCESSES), "--gateway-port", str(port), "--grace", "5"],
                                 env=env, stdout=log, stderr=subprocess.STDOUT)
    serving = Served(process, port, home)
    try:
        wait_for(lambda: len(serving.children()) == PROCESSES and _healthy(serving.url), serving, "two children")
        yield serving
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in serving.children():
            os.kill(pid, signal.SIGKILL)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # the master's port queues connections before a child serves
        return False


def wait_for(condition, served: Served, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert served.process.poll() is None, f"rabt serve exited: {served.log()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f}s: {served.log()}"
        time.sleep(0.2)


def test_two_gateway_processes_answer_on_one_port(served):
    children = served.children()
    assert len(children) == PROCESSES
    seen: set[int] = set()
    wait_for(lambda: seen.update(served.answering_pids()) or seen == children, served, "answers from both children")
    assert seen == children and served.process.pid not in seen  # the master only keeps them


def test_idle_half_sent_connections_from_one_address_do_not_stop_a_signed_push_from_another(served):
    hangers = [_half_sent_request(served.port) for _ in range(HANGERS)]
    try:
        refused = _turned_away(hangers, expected=HANGERS - PROCESSES * PER_CLIENT)
        held = HANGERS - len(refused)
        assert PER_CLIENT <= held <= PROCESSES * PER_CLIENT, f"{held} idle connections held"
        police = PoliceClient(f"{served.url}/soap/police", police_signer(served.home / "pki"), timeout=10)
        msg_id = new_msg_id("ARR")
        began = time.monotonic()
        receipt = police.notify_arrival(Population(PopulationSpec.scaled(1000)).worker(3), visa_no="EV-0000003",
                                        msg_id=msg_id)
        assert time.monotonic() - began < 10  # a bound, not a measurement: without the gate it never comes
        assert receipt.findtext(f"{{{BORDER_NS}}}MsgId") == msg_id
        assert receipt.findtext(f"{{{BORDER_NS}}}HubMessageId")
        still_open = [conn for conn in hangers if conn not in refused]
        assert not _turned_away(still_open, expected=1, timeout=0.5)  # the held ones still hang, unanswered
    finally:
        for conn in hangers:
            conn.close()
    assert "client 127.0.0.2 reached its limit of 20 connections" in served.log()


def _half_sent_request(port: int) -> socket.socket:
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.bind((OTHER_CLIENT, 0))
    conn.settimeout(10)
    conn.connect(("127.0.0.1", port))
    conn.sendall(b"POST /soap/police HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    return conn


def _turned_away(connections: list[socket.socket], expected: int, timeout: float = 10.0) -> set[socket.socket]:
    """The connections the server answered 503 or closed, waiting until ``expected`` of them or ``timeout``."""
    answered: set[socket.socket] = set()
    deadline = time.monotonic() + timeout
    while len(answered) < expected and time.monotonic() < deadline:
        waiting = [conn for conn in connections if conn not in answered]
        readable, _, _ = select.select(waiting, [], [], 0.2)
        for conn in readable:
            try:
                first = conn.recv(1024)
            except ConnectionResetError:
                first = b""
            assert first == b"" or first.startswith(b"HTTP/1.1 503 "), first
            answered.add(conn)
    return answered


def test_a_killed_gateway_process_is_restarted_and_the_port_answers_meanwhile(served):
    before = served.children()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    answers = []
    wait_for(lambda: answers.append(requests.get(f"{served.url}/healthz", timeout=5).status_code)
             or (len(served.children()) == PROCESSES and victim not in served.children()), served, "restart")
    assert set(answers) == {200}  # the other process answered all along
    wait_for(lambda: served.answering_pids() >= served.children() - before, served, "answer from the new process")
    assert "was killed by SIGKILL; restarting in" in served.log()


def test_sigterm_stops_the_master_and_every_gateway_process(served):
    # a child the master is restarting (the one killed above, or one that died since) counts once it is back
    wait_for(lambda: len(served.children()) == PROCESSES, served, "two children")
    children = served.children()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0, served.log()
    assert not [pid for pid in children if _parent(pid) is not None], "a gateway process outlived its master"
    assert not _healthy(served.url)
