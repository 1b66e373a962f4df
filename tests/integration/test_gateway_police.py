"""The police at the hub's SOAP gateway, over real HTTP, with the real transports.

A werkzeug server runs ``hub.gateway.create_app`` on 127.0.0.1 (a free port)
for each transport — the embedded SQLite broker and RabbitMQ (own queue
prefix per run; skipped without a broker unless ``RABT_REQUIRE_BROKER=1``).
The police side is a plain ``zeep.Client`` loading ``/soap/police?wsdl`` with
a plugin that signs each request with the police key, and raw HTTP for
requests zeep would never send. Licensing is played by a thread consuming
the licensing queue and answering visa checks signed with the licensing key.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import pytest
import requests
import zeep
from lxml import etree
from werkzeug.serving import make_server

from adapters.police.inbound import BORDER_NS
from hub import canonical
from hub.access import DEFAULT_ACCESS_FILE, AccessRights
from hub.bootstrap import Hub, bootstrap, gateway_app
from hub.config import Settings, XmlLimits
from hub.envelope import build_envelope, payload_digest, read_envelope
from hub.errors import RabtError
from hub.outbox import OutboxRelay
from hub.pki import PkiPaths, load_certificate, load_private_key
from hub.registry import load_adapter
from hub.routing import routing_key
from hub.signing import Identity, Signer, Verifier
from hub.transports import Delivery, Message
from hub.transports.testing import isolated_routes
from hub.xmlsafe import parse_xml
from simulators.police.client import PoliceClient, police_signer, soap_envelope
from simulators.population import Population, PopulationSpec
from tests.conftest import SAMPLES, TRANSPORTS, broker_url, declared

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
R = "{urn:rabt:canonical:v1}"
REPLY_TIMEOUT = 2.0
MAX_BYTES = 256 * 1024
#: operation → (canonical type, source system), as the police adapter declares them
ONE_WAY = {"NotifyArrival": ("WorkerArrival", "border"), "NotifyDeparture": ("WorkerDeparture", "border"),
           "NotifyResidenceRenewal": ("ResidenceRenewal", "border"), "ReportVisaIssued": ("VisaIssued", "visa")}


# ------------------------------------------------------------------ the gateway


@dataclass
class Gateway:
    """A running gateway: its hub, where it listens, and the queue licensing reads."""

    kind: str
    hub: Hub
    base_url: str
    verifier: Verifier
    sign: object = field(repr=False)

    @property
    def url(self) -> str:
        return f"{self.base_url}/soap/police"

    @property
    def queue(self) -> str:
        return self.hub.routes.queue_for("licensing")

    def outbox(self) -> set[str]:
        return {m.message_id for m in self.hub.log.unpublished(10_000)}

    def queue_depth(self) -> int:
        with self.hub.open_transport() as transport:
            return next(q.ready for q in transport.queue_stats() if q.name == self.queue)


@pytest.fixture(scope="module", params=TRANSPORTS)
def gateway(request, tmp_path_factory, trust_store, pki_dir):
    home = tmp_path_factory.mktemp(f"gateway-{request.param}")
    broker, routes = broker_url(request.param, home), isolated_routes()
    with declared(broker, routes):
        yield from _served_gateway(request.param, home, broker, routes, trust_store, pki_dir)


def _served_gateway(kind, home, broker, routes, trust_store, pki_dir):
    settings = Settings(home=home, broker_url=broker, xml_limits=XmlLimits(max_bytes=MAX_BYTES))
    hub = bootstrap(settings, trust_store=trust_store, routes=routes)
    assert hub.adapters["police"] is load_adapter("police")  # found by entry point, as in production
    server = make_server("127.0.0.1", 0, gateway_app(hub, {"REPLY_TIMEOUT": REPLY_TIMEOUT}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
    thread.start()
    yield Gateway(kind, hub, f"http://127.0.0.1:{server.server_port}", Verifier(trust_store),
                  police_signer(pki_dir))
    server.shutdown()
    thread.join(5)
    hub.close()


class SignedByPolice(zeep.Plugin):
    """zeep egress hook: the police sign the request element (enveloped, as their contract says)."""

    def __init__(self, sign) -> None:
        self.sign = sign

    def egress(self, envelope, http_headers, operation, binding_options):
        body = envelope.find(f"{{{SOAP}}}Body")
        body.replace(body[0], self.sign(body[0]))
        return envelope, http_headers


@pytest.fixture(scope="module")
def police(gateway) -> zeep.Client:
    return zeep.Client(f"{gateway.url}?wsdl", plugins=[SignedByPolice(gateway.sign)])


def new_msg_id(kind: str) -> str:
    return f"ROP-{kind}-{uuid.uuid4().hex[:16].upper()}"


def police_sample(operation: str, **changes: str | None) -> etree._Element:
    """An agency sample with a fresh MsgId; ``changes`` set child texts by path (None removes)."""
    root = etree.parse(str(SAMPLES / "police" / f"{operation}.xml"), etree.XMLParser(remove_comments=True)).getroot()
    ns = root.nsmap[root.prefix]
    for path, value in {"MsgId": new_msg_id(operation[:3].upper()), **changes}.items():
        node = root.find("/".join(f"{{{ns}}}{step}" for step in path.split("__")))
        if value is None:
            node.getparent().remove(node)
        else:
            node.text = value
    return root


def call(client: zeep.Client, sample: etree._Element):
    """Send ``sample`` through zeep's typed API, as a police system would build it."""
    value = client.get_element(sample.tag).parse(sample, client.wsdl.types)
    arguments = {name: value[name] for name in value}
    arguments["_value_1"] = etree.Element("{http://www.w3.org/2000/09/xmldsig#}Signature")  # the plugin signs
    return getattr(client.service, etree.QName(sample).localname)(**arguments)


# ------------------------------------------------------------------ licensing's side


def delivered(gateway: Gateway, message_ids: set[str], timeout: float = 10.0) -> dict[str, Delivery]:
    """Consume the licensing queue until every id in ``message_ids`` arrived (others are acked and kept too)."""
    seen: dict[str, Delivery] = {}
    deadline = time.monotonic() + timeout
    with gateway.hub.open_transport() as transport:
        while not message_ids <= seen.keys() and time.monotonic() < deadline:
            transport.consume(gateway.queue, lambda d: seen.__setitem__(d.message.message_id, d),
                              max_messages=1, idle_timeout=0.5)
    return seen


def licensing_signer(pki_dir: Path) -> Signer:
    paths = PkiPaths(pki_dir)
    return Signer(Identity("licensing", load_private_key(paths.agency_key("licensing")),
                           load_certificate(paths.agency_cert("licensing"))))


def visa_verdict(query: etree._Element) -> etree._Element:
    """Licensing's rule, reduced: only housemaids (911101) on a private licence have a vacancy."""
    result = etree.Element(R + "VisaEligibilityResult", nsmap={"rabt": R[1:-1]})
    free = query.findtext(R + "ProfessionCode") == "911101" and query.findtext(R + "LicenceType") == "private"
    code = "vacancy-available" if free else "profession-mismatch"
    for tag, text in (("LicenceNumber", query.findtext(R + "LicenceNumber")), ("Eligible", str(free).lower())):
        etree.SubElement(result, R + tag).text = text
    reason = etree.SubElement(result, R + "Reason")
    etree.SubElement(reason, R + "Code").text = code
    etree.SubElement(reason, R + "Text", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}).text = f"checked: {code}"
    if free:
        etree.SubElement(result, R + "RemainingVacancies").text = "1"
    return result


class LicensingResponder:
    """A thread playing licensing: verifies each query from the hub and answers it, signed."""

    def __init__(self, gateway: Gateway, signer: Signer, before_reply=None) -> None:
        self.gateway, self.signer, self.before_reply = gateway, signer, before_reply
        self.stop = threading.Event()
        self.answered: list[tuple[str, str]] = []  # (query message id, answer message id)
        self.reply_errors: list[RabtError] = []
        self.thread = threading.Thread(target=self._run, name="licensing", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        with self.gateway.hub.open_transport() as transport:
            transport.consume(self.gateway.queue, lambda d: self._answer(transport, d), stop=self.stop)

    def _answer(self, transport, delivery: Delivery) -> None:
        verified = self.gateway.verifier.verify(parse_xml(delivery.message.body), expected_signer="hub")
        header, query = read_envelope(verified.element)
        if header.message_type != "VisaEligibilityQuery" or not delivery.message.reply_to:
            return  # a notification or a query whose asker is gone: nothing to answer
        result = visa_verdict(query)
        reply = header.reply_header(message_type="VisaEligibilityResult", source_agency="licensing",
                                    source_system="licensing", raw_payload=etree.tostring(result))
        body = self.signer.sign_bytes(build_envelope(reply, result))
        self.answered.append((header.message_id, reply.message_id))
        if self.before_reply is not None:
            self.before_reply(header)
        try:
            transport.reply(delivery, Message(body, routing_key("police", "VisaEligibilityResult", "licensing"),
                                              reply.message_id, reply.correlation_id))
        except RabtError as exc:
            self.reply_errors.append(exc)
            raise


# ------------------------------------------------------------------ the contract


def test_a_plain_zeep_client_loads_the_wsdl_and_its_schemas(gateway):
    client = zeep.Client(f"{gateway.url}?wsdl")
    [service] = client.wsdl.services.values()
    [port] = service.ports.values()
    assert port.binding_options["address"] == gateway.url
    assert set(port.binding._operations) == {*ONE_WAY, "CheckVisaEligibility"}
    assert client.get_element(f"{{{BORDER_NS}}}NotificationReceipt") is not None


# ------------------------------------------------------------------ one-way notifications


@pytest.mark.parametrize("operation", sorted(ONE_WAY))
def test_notification_is_logged_signed_and_delivered_to_licensing(gateway, police, operation):
    message_type, system = ONE_WAY[operation]
    sample = police_sample(operation)
    msg_id = sample.findtext("{*}MsgId")
    receipt = call(police, sample)
    assert (receipt.MsgId, receipt.Duplicate) == (msg_id, False)
    hub_id = receipt.HubMessageId

    stored = gateway.hub.log.get(hub_id)
    assert msg_id.encode() in stored.raw and b"<ds:Signature" in stored.raw  # the SOAP request as received
    header, _ = read_envelope(gateway.verifier.verify(parse_xml(stored.envelope), expected_signer="hub").element)
    assert (header.message_type, header.source_agency, header.source_system, header.destination,
            header.source_message_id) == (message_type, "police", system, "licensing", msg_id)
    assert header.payload_digest == payload_digest(stored.raw)
    assert hub_id in gateway.outbox()

    with gateway.hub.open_transport() as transport:
        assert OutboxRelay(gateway.hub.log, transport).drain() >= 1
    assert hub_id not in gateway.outbox()
    delivery = delivered(gateway, {hub_id})[hub_id]
    verified = gateway.verifier.verify(parse_xml(delivery.message.body), expected_signer="hub")
    canonical.validate(verified.element)
    header, body = read_envelope(verified.element)
    assert (header.message_id, body.tag) == (hub_id, R + message_type)


def test_the_same_msg_id_twice_gets_the_first_receipt_and_nothing_new(gateway, police):
    sample = police_sample("NotifyArrival")
    first = call(police, sample)
    outbox = gateway.outbox()
    again = call(police, sample)
    assert (again.HubMessageId, again.Duplicate, first.Duplicate) == (first.HubMessageId, True, False)
    assert gateway.outbox() == outbox
    with gateway.hub.open_transport() as transport:
        OutboxRelay(gateway.hub.log, transport).drain()
    deliveries = delivered(gateway, {first.HubMessageId})
    ours = [d for d in deliveries.values() if sample.findtext("{*}MsgId").encode() in d.message.body]
    assert [d.message.message_id for d in ours] == [first.HubMessageId]


def test_the_police_simulator_client_is_understood(gateway, pki_dir):
    """The police simulator (another team's code) speaks the same contract: every message lands."""
    worker = Population(PopulationSpec.scaled(1000)).worker(3)
    client = PoliceClient(gateway.url, gateway.sign)
    try:
        receipts = [client.notify_arrival(worker, visa_no="EV-2026-0000003", flight_no="WY 102"),
                    client.notify_departure(worker, port="WJJ", final_exit=True),
                    client.notify_residence_renewal(worker),
                    client.report_visa_issued(worker, licence_no="CL-2026-000003", visa_no="EV-2026-0000004")]
    finally:
        client.close()
    ids = [r.findtext("{*}HubMessageId") for r in receipts]
    bodies = [read_envelope(parse_xml(gateway.hub.log.get(i).envelope))[1] for i in ids]
    assert [etree.QName(b).localname for b in bodies] == ["WorkerArrival", "WorkerDeparture", "ResidenceRenewal", "VisaIssued"]
    assert {b.findtext(f"{R}Worker/{R}CivilNumber") for b in bodies[:3]} == {worker.civil_number}
    assert bodies[0].findtext(R + "FlightNumber") == "WY102"
    assert bodies[1].findtext(f"{R}PortOfExit/{R}Kind") == "land"
    assert bodies[3].findtext(R + "LicenceType") == "commercial"
    for body in bodies:
        canonical.validate(body)


# ------------------------------------------------------------------ the visa check


def test_visa_check_is_answered_by_licensing(gateway, police, pki_dir):
    with LicensingResponder(gateway, licensing_signer(pki_dir)) as licensing:
        sample = police_sample("CheckVisaEligibility")
        yes = call(police, sample)
        no = call(police, police_sample("CheckVisaEligibility", ProfessionCode="711201"))
    assert (yes.MsgId, yes.LicenceNo, yes.EligibleFlag, yes.ReasonCode, yes.RemainingVacancies) == (
        sample.findtext("{*}MsgId"), "PL-2024-0046671", "Y", "vacancy-available", 1)
    assert (no.EligibleFlag, no.ReasonCode, no.ReasonText, no.RemainingVacancies) == (
        "N", "profession-mismatch", "checked: profession-mismatch", None)
    [(query_id, answer_id), _] = licensing.answered
    assert yes.HubMessageId == query_id
    query, answer = gateway.hub.log.get(query_id), gateway.hub.log.get(answer_id)
    assert (query.message_type, answer.message_type) == ("VisaEligibilityQuery", "VisaEligibilityResult")
    assert answer.correlation_id == query.correlation_id
    assert gateway.verifier.verify(parse_xml(answer.envelope), expected_signer="licensing")
    assert not {query_id, answer_id} & gateway.outbox()  # went over request/reply, not the outbox


def test_a_relay_running_while_the_question_is_in_flight_sends_nothing(gateway, police, pki_dir):
    # The relay of `rabt serve` runs beside the gateway: a question or answer that went over
    # request/reply must never reach the outbox, or it would be routed to a queue a second time.
    # In flight the question is not logged yet (it is, with its answer, before the police hear it).
    relayed = []

    def relay_now(header) -> None:
        relayed.append(header.message_id in gateway.outbox())
        with gateway.hub.open_transport() as transport:
            OutboxRelay(gateway.hub.log, transport).drain()  # whatever else earlier tests left there
        relayed.append(gateway.hub.log.get(header.message_id))  # a "published" record had the relay sent it

    with LicensingResponder(gateway, licensing_signer(pki_dir), before_reply=relay_now) as licensing:
        answer = call(police, police_sample("CheckVisaEligibility"))
    [(query_id, answer_id)] = licensing.answered
    assert answer.EligibleFlag == "Y" and relayed == [False, None]
    assert not {query_id, answer_id} & gateway.outbox()
    assert [gateway.hub.log.get(i).status for i in (query_id, answer_id)] == ["published", "published"]
    assert [e.status for e in gateway.hub.log.events(query_id)] == ["received", "published"]


def test_licensing_replies_are_not_reported_undeliverable(gateway, police, pki_dir):
    # RabbitMQ 3.10 answers a mandatory publish to a direct reply-to address with basic.return
    # although it delivered it: reply() must not call that a gone requester (and dead-letter
    # licensing's delivery after every good answer).
    with LicensingResponder(gateway, licensing_signer(pki_dir)) as licensing:
        answer = call(police, police_sample("CheckVisaEligibility"))
    assert answer.EligibleFlag == "Y"
    assert licensing.reply_errors == []


def test_an_answer_licensing_did_not_sign_is_a_server_fault_not_the_polices(gateway, police, pki_dir):
    paths = PkiPaths(pki_dir)
    impostor = Signer(Identity("courts", load_private_key(paths.agency_key("courts")),
                               load_certificate(paths.agency_cert("courts"))))
    with LicensingResponder(gateway, impostor), pytest.raises(zeep.exceptions.Fault) as fault:
        call(police, police_sample("CheckVisaEligibility"))
    assert fault.value.code == "soap:Server"
    assert fault.value.message == ("licensing's answer was refused: answer signed by 'courts', "
                                   "expected 'licensing'")


def test_visa_check_without_licensing_is_a_timeout_fault(gateway, police):
    outbox = gateway.outbox()
    started = time.monotonic()
    with pytest.raises(zeep.exceptions.Fault) as fault:
        call(police, police_sample("CheckVisaEligibility"))
    elapsed = time.monotonic() - started
    assert fault.value.code.endswith("Server.Timeout")
    assert REPLY_TIMEOUT <= elapsed < REPLY_TIMEOUT + 3
    assert gateway.outbox() == outbox  # the relay must not send the unanswered question later


# ------------------------------------------------------------------ refusals


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    text: str
    detail_code: str | None


def post(url: str, data, headers: dict | None = None) -> Fault:
    reply = requests.post(url, data=data, timeout=15, headers={"Content-Type": "text/xml; charset=utf-8", **(headers or {})})
    fault = parse_xml(reply.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None, reply.text
    return Fault(reply.status_code, fault.findtext("faultcode"), fault.findtext("faultstring"),
                 fault.findtext(f"detail/{{{BORDER_NS}}}ServiceError/{{{BORDER_NS}}}ErrorCode"))


def signed_request(gateway: Gateway, sample: etree._Element, sign=None) -> bytes:
    return soap_envelope((sign or gateway.sign)(sample))


@pytest.fixture
def nothing_published(gateway):
    """After the test: no new outbox entry and nothing new on the licensing queue."""
    outbox, depth = gateway.outbox(), gateway.queue_depth()
    yield
    assert gateway.outbox() == outbox
    assert gateway.queue_depth() == depth


def test_malformed_soap_is_refused(gateway, nothing_published):
    signed = gateway.sign(police_sample("NotifyArrival"))
    cases = [
        (b"this is not XML at all", "soap:Client.Parse", "request is not acceptable XML"),
        (etree.tostring(signed), "soap:Client", "root element is {urn:om:rop:border:2020}NotifyArrival, expected a SOAP 1.1 Envelope"),
        (soap_envelope(signed).replace(b"</soap:Body>", b"<extra/></soap:Body>"), "soap:Client",
         "SOAP Body must hold exactly one element, found 2"),
        (soap_envelope(etree.Element(f"{{{BORDER_NS}}}ServiceError")), "soap:Client.UnknownOperation",
         "police has no operation ServiceError"),
    ]
    for data, code, text in cases:
        fault = post(gateway.url, data)
        assert (fault.status, fault.code) == (500, code) and text in fault.text, fault


def test_an_external_entity_is_refused_and_never_read(gateway, nothing_published):
    request = signed_request(gateway, police_sample("NotifyArrival")).decode().replace(
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<?xml version="1.0"?>\n<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>').replace(
        "Rajesh Kumar Nair", "&xxe;")
    assert "<!DOCTYPE" in request
    fault = post(gateway.url, request.encode())
    assert fault.code == "soap:Client.Parse" and "DOCTYPE is not allowed" in fault.text
    assert "root:" not in fault.text


@pytest.mark.parametrize("operation", ["NotifyArrival", "CheckVisaEligibility"])
@pytest.mark.parametrize(("case", "error_code", "reason"), [
    ("tampered", "signature", "signed content was changed (digest mismatch)"),
    ("unsigned", "signature", "police must sign {operation}: the request has no ds:Signature"),
    ("by commerce", "certificate", "signed with a certificate that is not the one registered for 'police'"),
])
def test_a_request_not_signed_by_the_police_is_refused(gateway, pki_dir, nothing_published, operation, case,
                                                       error_code, reason):
    sample = police_sample(operation)
    msg_id = sample.findtext("{*}MsgId")
    if case == "tampered":  # one character of the signed MsgId, still valid for the contract
        data = signed_request(gateway, sample).replace(msg_id.encode(), msg_id[:-1].encode() + b"Z", 1)
    elif case == "unsigned":
        data = soap_envelope(sample)
    else:
        data = signed_request(gateway, sample, police_signer(pki_dir, "commerce"))
    refusals = len(gateway.hub.log.refusals("police", limit=10_000))
    fault = post(gateway.url, data)
    assert (fault.code, fault.detail_code) == ("soap:Client.Signature", error_code), fault
    assert reason.format(operation=operation) in fault.text
    if case != "unsigned" and operation in ONE_WAY:  # refused by the pipeline: the raw request is kept
        assert len(gateway.hub.log.refusals("police", limit=10_000)) == refusals + 1


def test_an_unregistered_agency_is_told_which_exist(gateway, nothing_published):
    fault = post(f"{gateway.base_url}/soap/nosuch", signed_request(gateway, police_sample("NotifyArrival")))
    assert (fault.status, fault.code) == (500, "soap:Client.UnknownAgency")  # WS-I BP R1126
    served = sorted(name for name, adapter in gateway.hub.adapters.items() if adapter.inbound)
    assert "police" in served
    assert fault.text == f"no agency 'nosuch' is registered here; known: {', '.join(served)}"


def test_an_unregistered_agency_named_in_another_script_is_quoted_as_sent(gateway, nothing_published):
    # the push path is matched before Flask's routing: the name is decoded from UTF-8 as Flask would
    police = "%D8%B4%D8%B1%D8%B7%D8%A9"  # شرطة, percent-encoded UTF-8
    fault = post(f"{gateway.base_url}/soap/{police}", signed_request(gateway, police_sample("NotifyArrival")))
    assert (fault.status, fault.code) == (500, "soap:Client.UnknownAgency")
    assert fault.text.startswith("no agency 'شرطة' is registered here; known: ")


def test_an_operation_the_access_rights_do_not_allow(gateway, tmp_path, monkeypatch, nothing_published):
    edited = tmp_path / "access.toml"
    edited.write_text(DEFAULT_ACCESS_FILE.read_text(encoding="utf-8").replace('"VisaIssued", ', ""), encoding="utf-8")
    rights = AccessRights.load(edited)
    assert not rights("police", "VisaIssued") and rights("police", "WorkerArrival")
    monkeypatch.setattr(gateway.hub.pipeline, "may_send", rights)
    fault = post(gateway.url, signed_request(gateway, police_sample("ReportVisaIssued")))
    assert fault.code == "soap:Client.NotAllowed"
    assert fault.text == "agency 'police' may not send VisaIssued"


@pytest.mark.parametrize(("operation", "path"), [("NotifyArrival", "Traveller__NationalityCode"),
                                               ("CheckVisaEligibility", "NationalityCode")])
def test_a_schema_violation_names_the_line(gateway, nothing_published, operation, path):
    sample = police_sample(operation, **{path: "India"})
    data = etree.tostring(etree.fromstring(signed_request(gateway, sample)), pretty_print=True,
                          xml_declaration=True, encoding="UTF-8")
    line = data[:data.index(b">India<")].count(b"\n") + 1
    fault = post(gateway.url, data)
    assert fault.code == "soap:Client.Schema"
    assert fault.text.startswith(f"line {line}: ") and "NationalityCode" in fault.text and "'India'" in fault.text


def test_input_the_mapping_refuses_is_a_mapping_fault(gateway, nothing_published):
    fault = post(gateway.url, signed_request(gateway, police_sample("CheckVisaEligibility", LicenceNo="XL-2024-77")))
    assert fault.code == "soap:Client.Mapping"
    assert "LicenceNo 'XL-2024-77' is not a labour licence number" in fault.text


def test_an_oversize_request_is_refused_before_it_is_read(gateway, nothing_published):
    request = signed_request(gateway, police_sample("NotifyArrival", FlightNo="WY204" + " " * MAX_BYTES))
    assert len(request) > MAX_BYTES
    fault = post(gateway.url, request)
    assert fault.code == "soap:Client.Parse"
    assert fault.text == f"request is {len(request)} bytes, over the limit of {MAX_BYTES}"
    chunked = post(gateway.url, (request[i:i + 65536] for i in range(0, len(request), 65536)))
    assert chunked.code == "soap:Client.Parse" and f"over the limit of {MAX_BYTES} bytes" in chunked.text


@pytest.mark.parametrize("content_type", ["application/soap+xml; charset=utf-8", "application/json", "text/plain"])
def test_a_request_not_sent_as_soap_11_text_xml_is_a_client_fault(gateway, nothing_published, content_type):
    fault = post(gateway.url, signed_request(gateway, police_sample("NotifyArrival")), {"Content-Type": content_type})
    assert (fault.status, fault.code) == (500, "soap:Client.ContentType")  # WS-I BP R1126
    assert fault.text == (f"Content-Type {content_type!r} is not accepted: SOAP 1.1 requests are sent as text/xml")
