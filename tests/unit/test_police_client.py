"""The police client builds requests that match the inbound contract, signs
them so the hub's verifier accepts them, and talks to a gateway over HTTP."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import pytest
import zeep
from flask import Flask, Response, request
from lxml import etree
from werkzeug.serving import WSGIRequestHandler, make_server

from hub.errors import AgencyFaultError, AgencyUnavailableError, SignatureError
from hub.signing import Verifier
from simulators.police.client import BORDER_NS, VISA_NS, PoliceClient, PoliceMessages, police_signer
from simulators.population import Population, PopulationSpec
from simulators.soap import AGENCY_SCHEMAS, SoapFault, envelope, fault_envelope, parse_request

POLICE = AGENCY_SCHEMAS / "police"
SCHEMAS = {BORDER_NS: POLICE / "border.xsd", VISA_NS: POLICE / "visa.xsd"}


@pytest.fixture(scope="module")
def worker():
    return Population(PopulationSpec.scaled(200)).worker(17)


@pytest.fixture(scope="module")
def schemas():
    return {ns: etree.XMLSchema(etree.parse(str(path))) for ns, path in SCHEMAS.items()}


def every_request(worker) -> list[etree._Element]:
    m = PoliceMessages()
    return [
        m.arrival(worker, visa_no="EV-2026-0583317", flight_no="WY204"),
        m.departure(worker, port="WJJ", final_exit=True),
        m.residence_renewal(worker),
        m.visa_check("PL-2026-0046671", worker.nationality, worker.profession_code, passport_no=worker.passport_number),
        m.visa_issued(worker, licence_no="PL-2026-0046671", visa_no="EV-2026-0583318"),
    ]


def test_signed_requests_match_the_contract_and_so_do_unsigned_ones(pki_dir, worker, schemas):
    # The enveloped ds:Signature is optional in the contract: a WS-Security request signs the Body instead.
    sign = police_signer(pki_dir)
    for unsigned in every_request(worker):
        schema = schemas[etree.QName(unsigned).namespace]
        assert schema.validate(unsigned), (etree.QName(unsigned).localname, schema.error_log.last_error)
        signed = sign(unsigned)
        assert schema.validate(signed), (etree.QName(signed).localname, schema.error_log.last_error)


def test_the_hub_verifier_accepts_the_police_signature_and_sees_tampering(pki_dir, trust_store, worker):
    sign = police_signer(pki_dir)
    signed = etree.fromstring(etree.tostring(sign(PoliceMessages().arrival(worker, visa_no="EV-1"))))
    assert Verifier(trust_store).verify(signed, expected_signer="police").signer == "police"
    signed.find(f".//{{{BORDER_NS}}}PassportNo").text = "X0000000"
    with pytest.raises(SignatureError):
        Verifier(trust_store).verify(signed, expected_signer="police")


def test_each_operation_is_in_the_gateway_wsdl():
    operations = zeep.Client(str(POLICE / "inbound.wsdl")).service._operations
    assert set(operations) == {"NotifyArrival", "NotifyDeparture", "NotifyResidenceRenewal",
                               "CheckVisaEligibility", "ReportVisaIssued"}


# -- over HTTP, against a stand-in gateway that checks what a real one would --------------


def stand_in_gateway(trust_store, schemas) -> Flask:
    app = Flask("stand-in-gateway")
    verifier = Verifier(trust_store)

    @app.post("/soap/police")
    def police():
        try:
            payload = parse_request(request.get_data())
            if not schemas[etree.QName(payload).namespace].validate(payload):
                raise SoapFault("Client", "request does not match the police contract")
            try:
                verifier.verify(payload, expected_signer="police")
            except SignatureError as exc:
                raise SoapFault("Client.Signature", exc.reason) from exc
        except SoapFault as fault:
            return Response(fault_envelope(fault), 500, content_type="text/xml")
        return Response(envelope(receipt(payload)), content_type="text/xml")

    return app


def receipt(payload: etree._Element) -> etree._Element:
    ns = etree.QName(payload).namespace
    name = {BORDER_NS: "NotificationReceipt", VISA_NS: "VisaReportReceipt"}[ns]
    answer = etree.Element(f"{{{ns}}}{name}")
    for tag, text in (("MsgId", payload.findtext(f"{{{ns}}}MsgId")), ("HubMessageId", str(uuid.uuid4())),
                      ("ReceivedAt", "2026-01-01T00:00:00Z")):
        etree.SubElement(answer, f"{{{ns}}}{tag}").text = text
    return answer


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@pytest.fixture(scope="module")
def gateway_url(trust_store, schemas):
    server = make_server("127.0.0.1", 0, stand_in_gateway(trust_store, schemas), threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.port}/soap/police"
    server.shutdown()


def test_client_posts_signed_notifications_and_reads_receipts(pki_dir, gateway_url, worker):
    client = PoliceClient(gateway_url, police_signer(pki_dir), timeout=5)
    answer = client.notify_arrival(worker, visa_no="EV-2026-0000001", msg_id="ROP-ARR-TEST000001")
    assert etree.QName(answer).localname == "NotificationReceipt"
    assert answer.findtext(f"{{{BORDER_NS}}}MsgId") == "ROP-ARR-TEST000001"
    assert answer.findtext(f"{{{BORDER_NS}}}HubMessageId")
    for call in (client.notify_departure(worker), client.notify_residence_renewal(worker),
                 client.report_visa_issued(worker, licence_no="PL-1", visa_no="EV-2")):
        assert call.findtext(".//{*}HubMessageId")
    client.close()


def test_gateway_refusals_and_outages_become_hub_errors(pki_dir, gateway_url, worker, tmp_path: Path):
    unsigned = PoliceClient(gateway_url, None, timeout=5)
    with pytest.raises(AgencyFaultError) as refused:
        unsigned.notify_arrival(worker, visa_no="EV-1")
    assert refused.value.fault_code == "soap:Client.Signature"

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    offline = PoliceClient(f"http://127.0.0.1:{closed_port}/soap/police", police_signer(pki_dir), timeout=2)
    with pytest.raises(AgencyUnavailableError):
        offline.check_visa_eligibility("PL-1", "IND", "7112")


def test_push_command_sends_one_signed_notification_per_worker(pki_dir, gateway_url, capsys):
    from simulators.police.__main__ import main

    assert main(["departure", "--gateway", gateway_url, "--pki", str(pki_dir), "--count", "3", "--workers", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["0", "1", "2"]
    assert all(line.split("\t")[1].startswith("ROP-DEP-") and line.split("\t")[2] for line in lines)
    assert main(["renewal", "--gateway", gateway_url, "--pki", "/nonexistent"]) == 1
    assert "cannot load private key" in capsys.readouterr().err


def test_a_card_renewed_from_29_february_runs_to_28_february():
    from datetime import date

    from simulators.police.client import years_after

    assert years_after(date(2028, 2, 29), 2) == date(2030, 2, 28)
    assert years_after(date(2028, 2, 29), 4) == date(2032, 2, 29)
    assert years_after(date(2027, 3, 1), 2) == date(2029, 3, 1)
