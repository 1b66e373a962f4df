"""The demo's scenarios as tests: simulators, hub and licensing as separate processes.

Each transport gets one running system (module scope) that the scenarios share in
order, as in ``rabt demo``: scenario 4 checks visas against the licence scenario 3
issued. On RabbitMQ the hub's message log is on PostgreSQL — a ministry's deployment
(docs/deploying.md) — and the queues carry a prefix of their own, so
the run never touches another hub's queues on the shared broker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace

import pytest

from hub.config import Settings
from simulators.demo.main import running_system
from simulators.demo.scenarios import SCENARIOS, ScenarioFailed
from tests.conftest import broker_url

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(300)]


@pytest.fixture(scope="module", params=["sqlite", "amqp", "amqp-split"])
def system(request, tmp_path_factory):
    """``amqp-split``: every hub role in a process of its own, sharing RabbitMQ and PostgreSQL."""
    home = tmp_path_factory.mktemp(f"e2e-{request.param}").resolve()
    settings = Settings(home=home, routes_file=home / "routes.toml")
    prefix = "rabt-demo."
    kind = "amqp" if request.param.startswith("amqp") else "sqlite"
    if kind == "amqp":
        # one database per system: a second run on the first one's log would find its files duplicates
        database_url = request.getfixturevalue("new_postgres_database")()
        settings = replace(settings, broker_url=broker_url(kind, home), database_url=database_url)
        prefix = f"rabt-e2e-{uuid.uuid4().hex[:8]}."
    with running_system(settings, queue_prefix=prefix, split_roles=request.param.endswith("split"),
                        echo=lambda line: None) as context:
        yield context
    context.stack.remove_topology()  # only where the broker is shared with other runs


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.number}" for s in SCENARIOS])
def test_scenario(system, scenario):
    try:
        detail = scenario.run(system)
    except ScenarioFailed as exc:
        pytest.fail(f"scenario {scenario.number} ({scenario.title}): {exc}")
    assert detail  # the one-line result the demo prints


def test_afterwards_nothing_is_left_dead_and_the_chain_is_intact(system):
    # scenario 8's dead letter was replayed; nothing else may have ended there
    assert system.dead_letters_everywhere() == []
    result = subprocess.run([sys.executable, "-m", "hub", "audit", "verify",
                             "--database-url", system.settings.effective_database_url],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "RABT_HOME": str(system.home)})
    assert result.returncode == 0, result.stderr
    assert "chain intact" in result.stdout
    stats = system.log.stats()
    # a message licensing applied is "applied" (its delivery receipt came back through the hub)
    published, applied = stats.by_status.get("published", 0), stats.by_status.get("applied", 0)
    assert stats.outbox_backlog == 0 and published + applied >= 200 and applied >= 100


def test_every_process_stops_cleanly_on_sigterm(system):
    codes = system.stack.stop()
    hub = {name: code for name, code in codes.items() if name.startswith("hub")}
    assert set(codes) - set(hub) == {"simulators", "licensing", "licensing-consumer"}
    assert len(hub) == (6 if system.stack.split_roles else 1)
    # 0 for a clean stop (in-flight work finished, acked, closed); the simulators' and
    # licensing's werkzeug servers end by the signal itself
    assert set(hub.values()) == {0} and codes["licensing-consumer"] == 0, codes
    assert all(code in (0, -15) for code in codes.values()), codes
