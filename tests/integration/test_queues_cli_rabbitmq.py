"""``rabt queues`` on the real RabbitMQ: the hub's own routes file, and nothing declared by looking."""

from __future__ import annotations

import json
import time
import uuid

import pika
import pika.exceptions
import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.routing import load_routes
from hub.transports import Message, open_transport
from tests.conftest import AMQP_URL, broker_url


def _routes_file(folder, prefix: str):
    path = folder / f"{prefix.rstrip('.')}.toml"
    path.write_text(f'queue_prefix = "{prefix}"\nretry_delays = [0.2]\nmax_attempts = 1\n'
                    'destinations = ["licensing", "courts"]\n', encoding="utf-8")
    return path


def _queues(tmp_path, routes_file) -> tuple[int, list[dict], str]:
    env = {"RABT_HOME": str(tmp_path), "RABT_BROKER_URL": AMQP_URL, "RABT_ROUTES_FILE": str(routes_file)}
    result = CliRunner().invoke(main, ["queues", "--json"], env=env)
    return result.exit_code, json.loads(result.stdout or "[]"), result.stderr


def _exists(queue: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        connection.close()


def test_queues_reads_the_routes_file_and_shows_the_hubs_backlog(tmp_path):
    broker_url("amqp", tmp_path)  # fails (RABT_REQUIRE_BROKER=1) or skips without RabbitMQ
    prefix = f"rabt-test-{uuid.uuid4().hex[:10]}."
    routes = load_routes(_routes_file(tmp_path, prefix))
    with open_transport(AMQP_URL, routes=routes) as hub_side:
        hub_side.declare(routes)  # what the hub does on start
        try:
            hub_side.publish([Message(b"<m/>", "licensing.T.police", f"m{i}") for i in range(83)])
            deadline, ready = time.monotonic() + 10, None
            while time.monotonic() < deadline and ready != 83:  # quorum counters settle asynchronously
                code, stats, _ = _queues(tmp_path, tmp_path / f"{prefix.rstrip('.')}.toml")
                assert code == 0
                ready = {s["name"]: s["ready"] for s in stats}.get(f"{prefix}licensing")
            assert ready == 83
            assert {s["name"] for s in stats} == {f"{prefix}licensing", f"{prefix}courts"}
        finally:
            hub_side.undeclare(routes)


def test_queues_declares_nothing_for_routes_the_hub_never_declared(tmp_path):
    broker_url("amqp", tmp_path)
    prefix = f"rabt-test-{uuid.uuid4().hex[:10]}."
    code, stats, said = _queues(tmp_path, _routes_file(tmp_path, prefix))
    assert code == 0 and stats == [] and "no work queue of these routes exists" in said
    assert not _exists(f"{prefix}licensing") and not _exists(f"{prefix}licensing.dlq")
    dlq = CliRunner().invoke(main, ["dlq", "list"], env={
        "RABT_HOME": str(tmp_path), "RABT_BROKER_URL": AMQP_URL,
        "RABT_ROUTES_FILE": str(tmp_path / f"{prefix.rstrip('.')}.toml")})
    assert dlq.exit_code == 0, dlq.output
    assert not _exists(f"{prefix}courts.dlq")


@pytest.fixture(autouse=True)
def _no_stray_home_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a command that wrote relative to the working folder would do it here
