"""RabbitMQ gone for 90 s in the middle of 10,000 police pushes: nothing lost, nobody restarts anything.

The real system as ``rabt demo`` runs it (``simulators.demo.stack.Stack``:
``rabt serve`` with every role, the licensing web app and its consumer, each a
process of its own), pointed at RabbitMQ through :class:`OutageProxy`; the
shared broker itself is never touched. Eight client threads push signed
border notifications to the gateway; after the first 1,500 receipts the proxy
cuts every connection and refuses new ones for 90 s, then lets them in again.

The gateway receipts every push all along (the message log is the outbox);
``/readyz`` says not ready, naming the broker, during the cut and ready after;
the relay and the consumer wait the outage out and say so once each; licensing
then applies every notification exactly once, and nothing is dead-lettered.

Slow on purpose (about three minutes): the outage must outlast every timeout
the roles have, and 10,000 messages must be in flight across it.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from hub.messagelog import open_message_log
from hub.routing import load_routes
from hub.transports import open_transport
from hub.transports.testing import DEFAULT_AMQP_URL, broker_problem
from simulators.demo.stack import Stack
from simulators.licensing.tables import events
from simulators.police.client import PoliceClient, PoliceMessages, police_signer
from simulators.population import Population, PopulationSpec
from tests.outage_proxy import OutageProxy

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(600)]

PUSHES = 10_000
CLIENTS = 8
CUT_AFTER = 1_500
CUT_SECONDS = 90
BORDER_TYPES = ("WorkerArrival", "WorkerDeparture", "ResidenceRenewal")


class Pusher:
    """Client threads pushing signed border notifications; counts receipts and keeps every failure."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.population = Population(PopulationSpec.scaled(stack.workers, seed=stack.seed))
        self.messages = PoliceMessages()
        self.receipted = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def client(self) -> PoliceClient:
        if not hasattr(self._local, "client"):  # a signer and an HTTP session per thread
            sign = police_signer(self.stack.home / "pki")
            self._local.client = PoliceClient(f"{self.stack.urls['gateway']}/soap/police", sign, timeout=60)
        return self._local.client

    def push(self, i: int) -> None:
        worker = self.population.worker(i % self.population.spec.workers)
        element = (self.messages.arrival(worker, visa_no=f"EV-{worker.civil_number}") if i % 3 == 0
                   else self.messages.departure(worker) if i % 3 == 1 else self.messages.residence_renewal(worker))
        try:
            receipt = self.client().send(element)
            assert (receipt.findtext("{*}HubMessageId") or "").strip(), "receipt without a HubMessageId"
        except Exception as exc:  # noqa: BLE001 - every failure is kept and asserted on at the end
            with self._lock:
                self.errors.append(f"push {i}: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            self.receipted += 1

    def start(self, count: int) -> threading.Thread:
        def run() -> None:
            with ThreadPoolExecutor(CLIENTS) as pool:
                list(pool.map(self.push, range(count)))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def readiness(stack: Stack) -> tuple[int, dict]:
    answer = requests.get(f"{stack.urls['console']}/readyz", timeout=30)
    return answer.status_code, answer.json()


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def applied(engine: sa.Engine) -> tuple[int, int]:
    """(border notifications applied, distinct message ids among them) in licensing's own database."""
    border = events.c.message_type.in_(BORDER_TYPES)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(events.c.message_id)))
                            .where(border)).one()
    return rows[0], rows[1]


def trail_applied(stack: Stack) -> int:
    """Messages the hub's log holds as applied (licensing's receipts came back)."""
    with open_message_log(f"sqlite:///{stack.home / 'messages.sqlite3'}", create=False) as log:
        return log.stats().by_status.get("applied", 0)


def watch_readiness(stack: Stack, seconds: float) -> list[tuple[int, dict]]:
    """``/readyz`` every two seconds for ``seconds``."""
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(readiness(stack))
        time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))
    return seen


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f}s"
        time.sleep(0.5)


def test_broker_gone_for_90_s_in_the_middle_of_10000_pushes_loses_nothing_and_needs_no_hands(tmp_path):
    if problem := broker_problem(DEFAULT_AMQP_URL):
        pytest.fail(problem)
    with OutageProxy(5672) as proxy:
        stack = Stack(home=tmp_path / "home", broker_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/",
                      workers=300, queue_prefix=f"test-outage-{uuid.uuid4().hex[:8]}.")
        try:
            stack.start()
            engine = sa.create_engine(f"sqlite:///{stack.home / 'licensing.sqlite3'}")
            wait_for(lambda: answers(f"{stack.urls['console']}/healthz"), 60, "the console answering")
            assert readiness(stack)[0] == 200
            pusher = Pusher(stack)
            pushing = pusher.start(PUSHES)
            wait_for(lambda: pusher.receipted >= CUT_AFTER, 120, f"{CUT_AFTER} receipts")

            proxy.cut()
            during = watch_readiness(stack, CUT_SECONDS)
            proxy.restore()

            pushing.join(300)
            assert not pushing.is_alive() and pusher.errors == [] and pusher.receipted == PUSHES
            wait_for(lambda: applied(engine)[0] >= PUSHES, 240, "licensing applied every push")
            wait_for(lambda: readiness(stack)[0] == 200, 60, "ready again after the broker came back")
            running = {name: process.poll() for name, process in stack.processes.items()}
            time.sleep(3)  # anything still arriving would be a duplicate
            assert applied(engine) == (PUSHES, PUSHES)
            engine.dispose()
            # and licensing's delivery receipts, some sent again after the outage, put each on the hub's trail
            wait_for(lambda: trail_applied(stack) >= PUSHES, 120, "every push applied on the hub's trail")
        finally:
            codes = stack.stop()
            proxy.restore()  # nothing to do unless the test failed during the cut
            letters = dead_letters(stack)
            stack.remove_topology()

    assert running == dict.fromkeys(stack.processes)  # every process ran from start to end, none was restarted
    assert letters == []
    assert all(code in (0, -15) for code in codes.values()), codes  # each stopped by SIGTERM, none failed
    assert codes["hub"] == 0 and codes["licensing-consumer"] == 0  # these two stop cleanly on it
    not_ready = [body for status, body in during if status == 503]
    assert len(not_ready) >= len(during) - 2, during  # (the first probe may still find the old connection)
    assert all(not body["checks"]["broker"]["ok"] and "unreachable" in body["checks"]["broker"]["error"]
               for body in not_ready)
    hub_log = (stack.log_dir / "hub.log").read_text()
    consumer_log = (stack.log_dir / "licensing-consumer.log").read_text()
    for log in (hub_log, consumer_log):
        assert "Traceback" not in log and "crashed" not in log
    # one line when the outage began and one when it ended, for each loop, not one per try
    for log, loop in ((hub_log, "outbox"), (hub_log, "worker-police"), (consumer_log, "licensing")):
        assert lines_saying(log, f"{loop}: broker unreachable: ") == 1, log
        assert lines_saying(log, f"{loop}: broker reachable again after ") == 1, log


def lines_saying(log: str, text: str) -> int:
    """Lines whose message begins with ``text`` (the hub's lines carry a time, level and logger first)."""
    said = re.compile(rf"(^|hub\.outage: ){re.escape(text)}")
    return sum(1 for line in log.splitlines() if said.search(line))


def dead_letters(stack: Stack) -> list:
    with open_transport(DEFAULT_AMQP_URL, routes=load_routes(stack.home / "routes.toml")) as transport:
        return transport.dead_letters(limit=100)
