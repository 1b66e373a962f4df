"""Shared by the outbound integration tests: simulators over real HTTP, a hub, a worker thread, an asker."""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from lxml import etree
from werkzeug.serving import make_server

from hub.bootstrap import Hub, bootstrap, worker_parts
from hub.config import Settings
from hub.envelope import Header, build_envelope, new_header, read_envelope
from hub.messagelog import open_message_log
from hub.outbound import Breakers, OutboundSettings, build_worker
from hub.pki import PkiPaths, load_certificate, load_private_key
from hub.routing import Routes, routing_key
from hub.signing import Identity, Signer, TrustStore, Verifier
from hub.transports import Message, Transport, open_transport, transport_class
from hub.transports.testing import isolated_routes
from hub.xmlsafe import parse_xml
from simulators.registry import create

#: outbound tuning that lets a test see retries, a tripped circuit and its reset within seconds
FAST = {"call_timeout": 2.0, "attempts": 2, "backoff": 0.01, "breaker_failures": 3, "breaker_reset": 1.0}


@pytest.fixture
def broker_routes():
    """Short retry delays, so a retried call is seen in the test's time (overrides the conftest's)."""
    return isolated_routes(delays=(0.2,), max_attempts=3)


@pytest.fixture
def rig(broker, tmp_path, trust_store):
    """The hub's parts on the test's transport; a module uses it by importing this fixture."""
    rig = HubRig(tmp_path, broker.url, broker.routes, trust_store)
    yield rig
    rig.close()

R = "urn:rabt:canonical:v1"


def canonical(message_type: str, **fields: str) -> etree._Element:
    """A flat canonical body: ``canonical("CivilStatusQuery", CivilNumber="10000003")``."""
    body = etree.Element(f"{{{R}}}{message_type}", nsmap={"rabt": R})
    for name, value in fields.items():
        etree.SubElement(body, f"{{{R}}}{name}").text = value
    return body


def text(element: etree._Element, path: str) -> str | None:
    return element.findtext("/".join(f"{{{R}}}{step}" for step in path.split("/")))


class Simulator:
    """An agency simulator served over real HTTP on 127.0.0.1 (free port), in a thread."""

    def __init__(self, name: str, config: dict | None = None) -> None:
        self.app = create(name, config or {})
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def population(self):
        return self.app.extensions["rabt_simulator"]["population"]

    def url(self, service: str) -> str:
        return f"{self.base}/soap/{service}"

    def fault(self, **rule) -> None:
        requests.post(f"{self.base}/_admin/faults", json=rule, timeout=5).raise_for_status()

    def rules(self) -> list[dict]:
        return requests.get(f"{self.base}/_admin/faults", timeout=5).json()["rules"]

    def clear(self) -> None:
        requests.delete(f"{self.base}/_admin/faults", timeout=5)

    def close(self) -> None:
        self.clear()  # wakes requests sleeping in timeout / latency rules
        self.server.shutdown()
        self.server.server_close()


class Asker:
    """The licensing side: signs canonical queries, asks over the transport, verifies the answer."""

    def __init__(self, pki_dir: Path, trust_store: TrustStore, transport: Transport) -> None:
        paths = PkiPaths(pki_dir)
        self.signer = Signer(Identity("licensing", load_private_key(paths.agency_key("licensing")),
                                      load_certificate(paths.agency_cert("licensing"))))
        self.verifier = Verifier(trust_store)
        self.transport = transport

    def message(self, body: etree._Element, destination: str, *, reply_to: str | None = None) -> tuple[Header, Message]:
        kind = etree.QName(body).localname
        header = new_header(message_type=kind, source_agency="licensing", source_system="licensing",
                            destination=destination, raw_payload=etree.tostring(body))
        data = self.signer.sign_bytes(build_envelope(header, body))
        return header, Message(data, routing_key(destination, kind, "licensing"), header.message_id,
                               header.correlation_id, reply_to)

    def ask(self, body: etree._Element, destination: str, timeout: float = 15.0):
        header, message = self.message(body, destination)
        return (header,) + self.ask_message(message, timeout)

    def ask_message(self, message: Message, timeout: float = 15.0):
        reply = self.transport.request(message, timeout=timeout)
        return self.read(reply.body)

    def read(self, data: bytes) -> tuple[Header, etree._Element]:
        verified = self.verifier.verify(parse_xml(data), expected_signer="hub")
        from hub import canonical as schemas

        schemas.validate(verified.element)
        return read_envelope(verified.element)


class HubRig:
    """A hub (message log, PKI, routes) with outbound workers running in threads."""

    def __init__(self, home: Path, broker_url: str, routes: Routes, trust_store: TrustStore) -> None:
        self.hub: Hub = bootstrap(Settings(home=home, broker_url=broker_url), trust_store=trust_store,
                                  log=open_message_log(f"sqlite:///{home / 'messages.sqlite3'}"), routes=routes)
        self.breakers = Breakers()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.workers = []
        self.errors: list[BaseException] = []

    def open_transport(self) -> Transport:
        url = self.hub.settings.effective_broker_url
        named = transport_class(url).capabilities.connection_name
        return open_transport(url, routes=self.hub.routes,
                              **({"connection_name": f"rabt-outbound-test-{uuid.uuid4().hex[:6]}"} if named else {}))

    def start(self, agency: str, settings: OutboundSettings):
        worker = build_worker(worker_parts(self.hub), self.hub.adapters[agency], settings, breakers=self.breakers)
        queue = self.hub.routes.queue_for(agency)

        def run() -> None:
            try:
                with self.open_transport() as transport:
                    worker.run(transport, queue, stop=self.stop)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
            finally:
                worker.close()

        thread = threading.Thread(target=run, daemon=True, name=f"worker-{agency}")
        thread.start()
        self.threads.append(thread)
        self.workers.append(worker)
        return worker

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        self.hub.close()
        assert not self.errors, self.errors


def wait_for(condition, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def late_answer(log, correlation_id: str, message_type: str):
    """The stored answer of ``message_type`` once the worker has handed it to the relay.

    A worker logs an answer before it tries the direct reply and queues it for
    the relay only after, so a test that drains the outbox must wait for that.
    """
    def queued():
        answers = [m for m in log.find(correlation_id=correlation_id) if m.message_type == message_type]
        outbox = {pending.message_id for pending in log.unpublished()}
        return [m for m in answers if m.message_id in outbox]

    [answer] = wait_for(queued)
    return answer


@contextmanager
def simulator(name: str, config: dict | None = None):
    sim = Simulator(name, config)
    try:
        yield sim
    finally:
        sim.close()


@contextmanager
def police_worker(rig, **tuning):
    """The police simulator, and the rig's police outbound worker calling its civil registry."""
    with simulator("police") as sim:
        settings = OutboundSettings(endpoints={"RABT_POLICE_CIVIL_REGISTRY_URL": sim.url("civil-registry"),
                                               "RABT_POLICE_TRANSFER_URL": sim.url("transfer")},
                                    reply_window=0.5, **tuning)
        rig.start("police", settings)
        yield sim
