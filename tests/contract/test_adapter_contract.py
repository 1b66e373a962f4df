"""The adapter contract: every registered adapter, every exchange it declares, every sample.

Adapters are the ones found by entry point (``hub.registry.adapter_names()``),
so a new agency is in this suite as soon as it is installed. For each
declared exchange and each of its samples:

    sample in → agency contract → mapped → valid canonical → enveloped, signed with the hub key
    → accepted by ``xmlsec1 --verify`` (and a changed byte refused) → published through the
    embedded SQLite transport → in the destination's queue from routes.toml, and nowhere else

* inbound SOAP operation: ``tests/samples/<agency>/<Operation>[-label].xml``, signed
  with the agency's key when the adapter requires it; one-way operations are posted to
  the real gateway (its answer is checked against the agency's contract), request/reply
  ones go through the pipeline, and their answer mapping runs on the canonical sample;
* file drop: files in ``tests/samples/<agency>/`` matching the drop's pattern, and files
  the agency's simulator writes (``SIMULATED``), dropped into the inbox and scanned;
* outbound service: the canonical query sample, about someone the agency's simulator
  knows (``SUBJECTS``), sent as licensing to the agency's queue and answered by the real
  outbound worker calling the simulator over HTTP; the answer goes to the asker's queue.

The hub is built by ``hub.bootstrap`` in a temporary RABT_HOME holding a PKI made by
``hub.pki.init_pki`` for every registered adapter and licensing.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import pytest
from lxml import etree
from werkzeug.serving import make_server

from hub import canonical
from hub.bootstrap import Hub, bootstrap, gateway_app, worker_parts
from hub.config import Settings
from hub.contracts import AgencyContracts
from hub.envelope import Header, build_envelope, new_header, read_envelope, utc_now
from hub.filedrop import DropWatcher
from hub.outbound import OutboundSettings, build_worker
from hub.outbound.resilience import Breakers
from hub.outbox import OutboxRelay
from hub.pipeline_types import Inbound
from hub.pki import PkiPaths, init_pki, load_certificate, load_private_key
from hub.registry import adapter_names, load_adapter
from hub.routing import routing_key
from hub.signing import Identity, Signer
from hub.soap import envelope, parse_request
from hub.transports import Delivery, Message
from hub.xmlsafe import parse_xml
from simulators import registry as simulator_registry
from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.courts.batches import labour_case, write_batches
from simulators.population import Population, PopulationSpec
from tests.conftest import SAMPLES

R = f"{{{canonical.NAMESPACE}}}"
ASKER = "licensing"


def _sif(layout: str, folder: Path) -> Path:
    population = Population(PopulationSpec.scaled(3000))
    written = render_employer_file(population, population.employer(1), 2026, 2, SifFaults(), layout)
    (folder / written.name).write_bytes(written.data)
    return folder / written.name


def _court_batch(folder: Path) -> Path:
    write_batches(Population(PopulationSpec.scaled(1_000_000)), date(2024, 3, 12), folder, per_file=3)
    return max(sorted(folder.glob("LCB_*.xml")), key=lambda p: int(etree.parse(str(p)).getroot().get("RecordCount")))


#: (agency, drop pattern) → sample label → writes one file as the agency's simulator does
SIMULATED: dict[tuple[str, str], dict[str, Callable[[Path], Path]]] = {
    ("centralbank", "SIF_*.csv"): {"simulated-layout-A": partial(_sif, "A"), "simulated-layout-B": partial(_sif, "B")},
    ("courts", "LCB_*.xml"): {"simulated-batch": _court_batch},
}

#: canonical query type → the query's fields (paths A/B) set to someone the simulator's population holds
SUBJECTS: dict[str, Callable[[Population, object], dict[str, str]]] = {
    "CivilStatusQuery": lambda people, service: {"CivilNumber": people.find_citizen(married=True).civil_number},
    "CommercialRegistrationQuery": lambda people, service: {"CRNumber": people.employer(3).cr_number},
    "ChamberMembershipQuery": lambda people, service: {"CRNumber": people.employer(3).cr_number},
    "IncomeQuery": lambda people, service: {"CivilNumber": people.find_citizen(insurer=service.system).civil_number,
                                            "Source": service.system},
    "LabourCaseStatusQuery": lambda people, service: {"CaseNumber": labour_case(people, 1).number},
    "TransferEligibilityQuery": lambda people, service: {"CivilNumber": people.worker(1).civil_number},
    "TransferCompleted": lambda people, service: {"Worker/CivilNumber": people.worker(1).civil_number},
    "WorkerDataCorrected": lambda people, service: {"Previous/CivilNumber": people.worker(1).civil_number},
}


@dataclass(frozen=True)
class Case:
    """One sample of one exchange of one adapter."""

    agency: str
    kind: str  # "inbound", "file" or "outbound"
    index: int  # position of the exchange in the adapter's declaration
    exchange: str  # operation, file pattern or agency system: for the test id
    sample: str

    def __str__(self) -> str:
        return f"{self.agency}-{self.kind}-{self.exchange}-{self.sample}"


def inbound_samples(agency: str, operation: str) -> list[Path]:
    folder = SAMPLES / agency
    return sorted([*folder.glob(f"{operation}.xml"), *folder.glob(f"{operation}-*.xml")])


def file_samples(agency: str, pattern: str) -> list[str]:
    folder = SAMPLES / agency
    committed = sorted(p.name for p in folder.glob("*") if p.is_file() and fnmatch.fnmatch(p.name, pattern))
    return committed + list(SIMULATED.get((agency, pattern), {}))


def cases() -> list[Case]:
    found = []
    for name in adapter_names():
        adapter = load_adapter(name)
        for index, op in enumerate(adapter.inbound):
            found += [Case(name, "inbound", index, op.operation, p.name) for p in inbound_samples(name, op.operation)]
        for index, drop in enumerate(adapter.file_drops):
            found += [Case(name, "file", index, drop.pattern, label) for label in file_samples(name, drop.pattern)]
        for index, service in enumerate(adapter.outbound):
            found.append(Case(name, "outbound", index, service.system, f"{service.query_type}.xml"))
    return found


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("contract-pki")
    init_pki(root, [*adapter_names(), ASKER])
    return root


@pytest.fixture
def hub(tmp_path, pki):
    home = tmp_path / "home"
    shutil.copytree(pki, home / "pki")
    hub = bootstrap(Settings(home=home, broker_url=f"sqlite:///{home / 'broker.sqlite3'}"))
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
    yield hub
    hub.close()


def signer_of(hub: Hub, party: str) -> Signer:
    paths = PkiPaths(hub.settings.pki_dir)
    return Signer(Identity(party, load_private_key(paths.agency_key(party)), load_certificate(paths.agency_cert(party))))


# ------------------------------------------------------------------ the common end: signed, verified, routed


def routed(hub: Hub, destination: str, count: int) -> list[Delivery]:
    """Relay the outbox; every message must be in ``destination``'s queue and no other."""
    with hub.open_transport() as transport:
        assert OutboxRelay(hub.log, transport).drain() == count
        depths = {q.name: (q.ready, q.dead_letters) for q in transport.queue_stats()}
        expected = hub.routes.queue_for(destination)
        assert depths == {name: ((count, 0) if name == expected else (0, 0)) for name in depths}
        deliveries: list[Delivery] = []
        if count:
            transport.consume(expected, deliveries.append, max_messages=count, idle_timeout=5)
    assert len(deliveries) == count
    return deliveries


def xmlsec1(pki: Path, path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("xmlsec1")
    assert binary, "xmlsec1 is not installed (apt-get install -y xmlsec1)"
    return subprocess.run([binary, "--verify", "--trusted-pem", str(pki / "ca.pem"), str(path)],
                          capture_output=True, text=True, timeout=30)


def signed_canonical(hub: Hub, delivery: Delivery, tmp_path: Path, *, agency: str, message_type: str,
                     destination: str) -> tuple[Header, etree._Element]:
    """Check one published message end to end; its header and canonical body."""
    message = delivery.message
    assert message.routing_key == routing_key(destination, message_type, agency)
    document = parse_xml(message.body)
    canonical.validate(document)
    header, body = read_envelope(hub.verifier.verify(document, expected_signer="hub").element)
    assert (header.message_id, header.message_type, header.source_agency, header.destination) == (
        message.message_id, message_type, agency, destination)
    canonical.validate(body)
    path = tmp_path / f"{header.message_id}.xml"
    path.write_bytes(message.body)
    accepted = xmlsec1(hub.settings.pki_dir, path)
    assert accepted.returncode == 0, accepted.stderr
    path.write_bytes(message.body.replace(b"<rabt:SourceSystem>", b"<rabt:SourceSystem>x", 1))
    assert xmlsec1(hub.settings.pki_dir, path).returncode != 0, "xmlsec1 accepted a changed header"
    return header, body


# ------------------------------------------------------------------ the exchanges


def source_id(payload: etree._Element, xpath: str | None) -> str:
    """The agency's own message id in ``payload`` (``a`` = the payload's namespace), as the gateway reads it."""
    found = payload.xpath(xpath, namespaces={"a": etree.QName(payload).namespace}) if xpath else []
    return "".join(found[0].itertext() if isinstance(found[0], etree._Element) else str(found[0])).strip() if found else ""


def fault_text(data: bytes) -> str:
    """The faultcode and faultstring of a SOAP Fault answer, for a readable failure."""
    fault = parse_xml(data).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    return f"{fault.findtext('faultcode')}: {fault.findtext('faultstring')}" if fault is not None else data.decode()


def check_inbound(hub: Hub, case: Case, tmp_path: Path) -> None:
    adapter = hub.adapters[case.agency]
    op = adapter.inbound[case.index]
    contracts = AgencyContracts(adapter.schema_dir, adapter.name)
    payload = parse_xml((SAMPLES / case.agency / case.sample).read_bytes())
    if op.require_signature:
        payload = signer_of(hub, case.agency).sign(payload)
    contracts.validate(payload)  # as the gateway does: the signature is part of the contract
    if op.reply_type is None:
        answer = gateway_app(hub).test_client().post(f"/soap/{case.agency}", data=envelope(payload),
                                                    content_type="text/xml; charset=utf-8")
        assert answer.status_code == 200, f"gateway fault: {fault_text(answer.data)}"
        response = parse_request(answer.data)
    else:
        raw = envelope(payload)
        receipt = hub.pipeline.accept(Inbound(agency=case.agency, system=op.system, message_type=op.message_type,
                                              destination=op.destination, raw=raw,
                                              require_signature=op.require_signature, received_at=utc_now()),
                                      parse_request(raw))
        reply = parse_xml((SAMPLES / "canonical" / f"{op.reply_type}.xml").read_bytes())
        response = hub.mappings.transform(case.agency, op.response_mapping, reply, hub_message_id=receipt.message_id,
                                          source_message_id=source_id(payload, op.source_id_xpath))
    assert contracts.covers(response), f"{op.response_mapping} answers outside the {case.agency} contract"
    contracts.validate(response)
    (delivery,) = routed(hub, op.destination, 1)
    header, _ = signed_canonical(hub, delivery, tmp_path, agency=case.agency, message_type=op.message_type,
                                 destination=op.destination)
    assert header.source_system == op.system


def check_file(hub: Hub, case: Case, tmp_path: Path) -> None:
    adapter = hub.adapters[case.agency]
    drop = adapter.file_drops[case.index]
    watcher = DropWatcher(hub.settings, [adapter], hub.pipeline)
    written = tmp_path / "written"
    written.mkdir()
    generate = SIMULATED.get((case.agency, drop.pattern), {}).get(case.sample)
    sample = generate(written) if generate else shutil.copy(SAMPLES / case.agency / case.sample, written)
    Path(sample).replace(hub.settings.drop_dir / case.agency / "inbox" / Path(sample).name)
    (outcome,) = watcher.scan_once()
    assert outcome.status == "done", (outcome.reason, outcome.errors)
    assert outcome.items and outcome.message_type == drop.message_type
    deliveries = routed(hub, drop.destination, len(outcome.items))
    for delivery in deliveries:
        header, _ = signed_canonical(hub, delivery, tmp_path, agency=case.agency, message_type=drop.message_type,
                                     destination=drop.destination)
        assert header.source_system == drop.system
    assert {d.message.message_id for d in deliveries} == {item.message_id for item in outcome.items}


class Recorder:
    """WSGI wrapper noting each request's path and answer status (what the agency saw)."""

    def __init__(self, app) -> None:
        self.app, self.calls = app, []

    def __call__(self, environ, start_response):
        def recording(status, headers, *args):
            self.calls.append((environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, *args)

        return self.app(environ, recording)


@pytest.fixture
def simulator():
    """Serves an agency simulator over real HTTP: ``simulator(agency) -> (app, base url, recorder)``."""
    running = []

    def start(agency: str):
        app = simulator_registry.create(agency)
        recorder = Recorder(app.wsgi_app)
        app.wsgi_app = recorder
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name=f"simulator-{agency}", daemon=True)
        thread.start()
        running.append((server, thread))
        return app, f"http://127.0.0.1:{server.server_port}", recorder

    yield start
    for server, thread in running:
        server.shutdown()
        thread.join(5)


def service_path(app, wsdl: str) -> str:
    """Where the simulator serves the contract ``wsdl``."""
    served = [s for s in app.extensions["rabt_simulator"]["services"] if s.wsdl.name == wsdl]
    assert served, f"the simulator serves no service for {wsdl}"
    return f"/soap/{served[0].name}"


def licensing_query(hub: Hub, agency: str, service, people: Population) -> tuple[Header, Message]:
    query = parse_xml((SAMPLES / "canonical" / f"{service.query_type}.xml").read_bytes())
    for field, value in SUBJECTS.get(service.query_type, lambda *_: {})(people, service).items():
        query.find("/".join(R + step for step in field.split("/"))).text = value
    header = new_header(message_type=service.query_type, source_agency=ASKER, source_system=ASKER,
                        destination=agency, raw_payload=etree.tostring(query))
    body = signer_of(hub, ASKER).sign_bytes(build_envelope(header, query))
    return header, Message(body, routing_key(agency, service.query_type, ASKER), header.message_id,
                           header.correlation_id, headers={"message-type": service.query_type, "source-agency": ASKER})


def check_outbound(hub: Hub, case: Case, tmp_path: Path, simulator) -> None:
    adapter = hub.adapters[case.agency]
    service = adapter.outbound[case.index]
    app, base, recorder = simulator(case.agency)
    endpoints = {s.endpoint_setting: base + service_path(app, s.wsdl) for s in adapter.outbound}
    worker = build_worker(worker_parts(hub), adapter, OutboundSettings(endpoints=endpoints, attempts=1), breakers=Breakers())
    header, query = licensing_query(hub, case.agency, service, app.extensions["rabt_simulator"]["population"])
    with hub.open_transport() as transport:
        transport.publish([query])
        assert worker.run(transport, hub.routes.queue_for(case.agency), max_messages=1, idle_timeout=5) == 1
    worker.close()
    assert recorder.calls == [(service_path(app, service.wsdl), 200)]
    if service.reply_type is None:  # one-way: the agency's acknowledgement is all there is
        assert routed(hub, ASKER, 0) == [] and not hub.log.refusals()
        return
    (delivery,) = routed(hub, ASKER, 1)
    answer, _ = signed_canonical(hub, delivery, tmp_path, agency=case.agency, message_type=service.reply_type,
                                 destination=ASKER)
    assert (answer.correlation_id, answer.source_message_id, answer.source_system) == (
        header.correlation_id, header.message_id, service.system)


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("name", adapter_names())
def test_adapter_declares_exchanges_and_each_has_a_sample(name):
    adapter = load_adapter(name)
    assert adapter.name == name and adapter.title
    assert adapter.inbound or adapter.file_drops or adapter.outbound, f"{name} declares no exchange"
    for op in adapter.inbound:
        assert inbound_samples(name, op.operation), f"no sample: add tests/samples/{name}/{op.operation}.xml"
    for drop in adapter.file_drops:
        assert file_samples(name, drop.pattern), f"no sample: add a {drop.pattern} file to tests/samples/{name}/"
    for service in adapter.outbound:
        assert (SAMPLES / "canonical" / f"{service.query_type}.xml").is_file()
        assert adapter.name in simulator_registry.SIMULATORS, f"{name} calls agency services but has no simulator"


@pytest.mark.parametrize("case", cases(), ids=str)
def test_sample_becomes_signed_canonical_verified_by_xmlsec1_and_routed(case, hub, tmp_path, simulator):
    if case.kind == "inbound":
        check_inbound(hub, case, tmp_path)
    elif case.kind == "file":
        check_file(hub, case, tmp_path)
    else:
        check_outbound(hub, case, tmp_path, simulator)
