"""Pause, resume and circuit reset reach a real outbound worker loop, on both transports.

The worker runs as ``rabt worker`` runs it (:func:`hub.outbound.worker_loops`,
the process-wide breakers); the commands are written as the console writes
them, into the message log's database, and the worker reads them on its own.
"""

from __future__ import annotations

import threading
import time

import pytest

from console_support import console_users
from hub.bootstrap import console_app, worker_parts
from hub.messagelog.controls import ControlBoard
from hub.outbound import worker_loops
from hub.outbound.resilience import BREAKERS
from outbound_helpers import Asker, HubRig, canonical, simulator
from hub.transports.testing import isolated_routes

ENV = {"RABT_OUTBOUND_TIMEOUT": "2", "RABT_OUTBOUND_ATTEMPTS": "1", "RABT_OUTBOUND_BACKOFF": "0.01",
       "RABT_OUTBOUND_BREAKER_FAILURES": "1", "RABT_OUTBOUND_BREAKER_RESET": "600"}


@pytest.fixture
def broker_routes():
    return isolated_routes(delays=(0.2,), max_attempts=2)


@pytest.fixture
def running(broker, tmp_path, trust_store, pki_dir):
    """A hub, the commerce simulator, and the commerce worker loop of ``rabt worker`` in a thread."""
    rig = HubRig(tmp_path, broker.url, broker.routes, trust_store)
    BREAKERS.reset()
    with simulator("commerce") as sim:
        env = {**ENV, "RABT_COMMERCE_REGISTRY_URL": sim.url("commercial-registry"),
               "RABT_COMMERCE_CHAMBER_URL": sim.url("chamber-membership")}
        [(_, loop)] = worker_loops(worker_parts(rig.hub), rig.hub.adapters, ["commerce"], env=env)
        thread = threading.Thread(target=loop, args=(rig.stop,), daemon=True)
        thread.start()
        with rig.open_transport() as transport:
            yield rig, sim, Asker(pki_dir, trust_store, transport)
        rig.stop.set()
        thread.join(15)
        assert not thread.is_alive()
    rig.close()
    BREAKERS.reset()


def consumers(rig, queue: str) -> tuple[int, int]:
    """``(ready, consumers)`` of ``queue`` as the broker reports them."""
    with rig.open_transport() as transport:
        stats = next(s for s in transport.queue_stats() if s.name == queue)
    return stats.ready, stats.consumers


def eventually(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {check.__doc__ or check}")


def test_a_paused_destination_keeps_its_messages_until_it_is_resumed(running):
    rig, sim, asker = running
    queue, board = rig.hub.routes.queue_for("commerce"), ControlBoard(rig.hub.log.engine)
    employer = sim.population.employer(3)
    assert eventually(lambda: consumers(rig, queue)[1] == 1)
    board.issue("pause", "commerce", "op")
    assert eventually(lambda: consumers(rig, queue)[1] == 0, 6)
    header, message = asker.message(canonical("CommercialRegistrationQuery", CRNumber=employer.cr_number),
                                    "commerce")
    answers: list = []
    threading.Thread(target=lambda: answers.append(asker.ask_message(message, 20)), daemon=True).start()
    time.sleep(3)  # more than the pick-up interval: a paused worker would have taken it by now
    assert consumers(rig, queue) == (1, 0) and answers == []
    board.issue("resume", "commerce", "op")
    reply_header, _ = eventually(lambda: answers and answers[0], 10)
    assert reply_header.message_type == "CommercialRegistrationRecord"
    assert reply_header.correlation_id == header.correlation_id


def test_a_reset_closes_the_open_circuit_of_the_running_worker(running):
    rig, sim, asker = running
    board = ControlBoard(rig.hub.log.engine)
    employer = sim.population.employer(4)
    query = canonical("CommercialRegistrationQuery", CRNumber=employer.cr_number)
    sim.fault(mode="down", operation="GetCommercialRegistration")
    _, header, _ = asker.ask(query, "commerce")
    assert header.message_type == "Fault" and BREAKERS.states() == {"commerce": "open"}
    sim.clear()
    _, header, _ = asker.ask(query, "commerce")
    assert header.message_type == "Fault"  # the circuit stays open for 600 s by itself
    seq = board.issue("reset", "commerce", "op")
    assert eventually(lambda: BREAKERS.states() == {"commerce": "closed"}, 6)

    def done() -> bool:  # the worker closes the breakers first, then marks the command done
        [command] = [c for c in board.recent() if c["seq"] == seq]
        return bool(command["done_at"] and command["done_by"])

    assert eventually(done, 6)
    _, header, _ = asker.ask(query, "commerce")
    assert header.message_type == "CommercialRegistrationRecord"


def test_each_command_is_in_the_chain_and_a_worker_sees_who_paused(broker, tmp_path, trust_store):
    rig = HubRig(tmp_path, broker.url, broker.routes, trust_store)
    users, tokens = console_users()
    app = console_app(rig.hub, {"SECRET_KEY": "test"}, users=users, breaker_states=lambda: {})
    client, operator = app.test_client(), {"Authorization": f"Bearer {tokens['operator']}"}
    for path in ("pause", "reset-circuit", "resume", "pause"):
        answer = client.post(f"/api/v1/controls/{path}", headers=operator, json={"destination": "commerce"})
        assert answer.status_code == 200, answer.json
    refused = client.post("/api/v1/controls/pause", headers=operator, json={"destination": "nobody"})
    assert refused.status_code == 400 and "no destination 'nobody'" in refused.json["error"]["reason"]
    overview = client.get("/api/v1/overview", headers=operator).json
    assert [(p["destination"], p["actor"]) for p in overview["paused"]] == [("commerce", "operator-token")]
    assert any(a["name"] == "RabtConsumptionPaused" and a["subject"] == "commerce" for a in overview["alarms"])
    chained = rig.hub.log.actions(10)
    assert [(a.status, a.actor) for a in chained[:4]] == [
        ("pause", "operator-token"), ("resume", "operator-token"), ("reset-circuit", "operator-token"),
        ("pause", "operator-token")]
    assert all("commerce" in a.detail for a in chained[:4]) and rig.hub.log.verify_chain().ok
    page = client.get("/api/v1/controls", headers=operator).json
    assert [c["command"] for c in page["commands"]] == ["pause", "resume", "reset", "pause"]
    app.extensions["rabt_console"].console.broker.close()
    rig.close()
