"""Two licensing worker processes share one queue; nothing is applied twice.

The hub logs and relays a few hundred border notifications; two
``python -m simulators.licensing consume`` processes compete for them on the
real broker and one shared licensing database, with a third that is SIGKILLed
in the middle (its unacknowledged deliveries go to the other two). At the end
every message is applied exactly once, and both surviving workers did part of
the work.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from lxml import etree

from hub import lifeline
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.outbox import OutboxRelay
from hub.pipeline_types import Inbound
from hub.pki import init_pki
from simulators.police.client import PoliceMessages
from simulators.population import Population, PopulationSpec
from tests.conftest import TEST_PARTIES, TRANSPORTS, broker_url, declared

pytestmark = pytest.mark.timeout(240)

MESSAGES = 400
#: consumer threads per worker process: each is a consumer of the queue
THREADS = 2


@pytest.fixture(params=TRANSPORTS)
def setup(request, tmp_path):
    home = tmp_path.resolve()
    prefix = f"rabt-workers-{uuid.uuid4().hex[:8]}."
    (home / "routes.toml").write_text(f'queue_prefix = "{prefix}"\ndestinations = ["licensing"]\n'
                                      "retry_delays = [0.2]\nmax_attempts = 5\n", encoding="utf-8")
    licensing_db = f"sqlite:///{home / 'licensing.sqlite3'}"
    broker = broker_url(request.param, home)
    if request.param == "amqp":
        licensing_db = request.getfixturevalue("new_postgres_database")()
    else:  # a killed worker's leases come back after 2 s instead of 30
        broker += "?visibility_timeout=2"
    init_pki(home / "pki", TEST_PARTIES)
    hub = bootstrap(Settings(home=home, broker_url=broker, routes_file=home / "routes.toml"))
    env = {**os.environ, "RABT_HOME": str(home), "RABT_BROKER_URL": broker,
           "RABT_ROUTES_FILE": str(home / "routes.toml"), "RABT_LICENSING_DATABASE_URL": licensing_db}
    with declared(broker, hub.routes):
        yield hub, env, sa.create_engine(licensing_db.replace("postgresql://", "postgresql+psycopg://"))
    hub.close()


def accept_arrivals(hub, count: int) -> set[str]:
    """``count`` border arrivals of different workers, in the police's own dialect, through the pipeline."""
    population, police = Population(PopulationSpec.scaled(max(count, 1000))), PoliceMessages()
    ids = set()
    for index in range(count):
        request = police.arrival(population.worker(index), visa_no=f"EV-{index:07d}", msg_id=f"ARR-{index:07d}")
        inbound = Inbound(agency="police", system="border", message_type="WorkerArrival", destination="licensing",
                          raw=etree.tostring(request), source_message_id=f"ARR-{index:07d}")
        ids.add(hub.pipeline.accept(inbound, request).message_id)
    return ids


def start_worker(env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "simulators.licensing", "consume", "--threads", str(THREADS)]
    return lifeline.popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True)


def applied(engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM processed_messages")).scalar_one()
    except sa.exc.OperationalError:  # the first worker has not created its tables yet
        return 0


def wait_until(what: str, probe, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def handled(worker: subprocess.Popen) -> int:
    """SIGTERM, clean exit, and how many deliveries the worker says it handled."""
    os.killpg(worker.pid, signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    return int(re.search(r"licensing: (\d+) message\(s\) handled", output).group(1))


def alive(*workers: subprocess.Popen) -> bool:
    """True while every worker runs; a worker that exited fails the test with what it printed."""
    for worker in workers:
        if worker.poll() is not None:
            pytest.fail(f"a licensing worker exited with {worker.returncode}: {worker.communicate()[0][-2000:]}")
    return True


def consumers(hub, transport) -> int:
    return next(q.consumers for q in transport.queue_stats() if q.name == hub.routes.queue_for("licensing"))


def test_two_workers_share_the_queue_and_apply_each_message_once(setup):
    hub, env, engine = setup
    ids = accept_arrivals(hub, MESSAGES)
    doomed, workers = start_worker(env), [start_worker(env), start_worker(env)]
    try:
        with hub.open_transport() as transport:
            wait_until("three workers on the queue",
                       lambda: alive(doomed, *workers) and consumers(hub, transport) >= 3 * THREADS)
            assert OutboxRelay(hub.log, transport).drain() == MESSAGES
        wait_until("a quarter of the messages to be applied", lambda: applied(engine) >= MESSAGES // 4)
        os.killpg(doomed.pid, signal.SIGKILL)  # mid-stream: its unacked deliveries must not be lost
        doomed.wait(10)
        wait_until("every message to be applied", lambda: applied(engine) >= MESSAGES)
        time.sleep(1)  # a double application would show up now, after the last one
        counts = [handled(worker) for worker in workers]
    finally:
        for worker in (doomed, *workers):
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
    with engine.connect() as conn:
        marks = conn.execute(sa.text("SELECT message_id FROM processed_messages")).scalars().all()
        events = conn.execute(sa.text("SELECT message_id, COUNT(*) FROM lic_worker_events GROUP BY message_id")).all()
    assert sorted(marks) == sorted(ids)  # each applied, once
    assert {mid for mid, _ in events} == ids and {n for _, n in events} == {1}
    assert all(count > 0 for count in counts), counts  # both surviving workers took part
