"""Field rights on a routed message, over each transport and each database.

The hub removes what access.toml does not grant the destination before it
signs, so what the consumer takes off the transport lacks the field, the
signature over the projected message verifies (the hub's verifier and
xmlsec1), the log chains which projection went out, and ``rabt audit verify``
passes. (The subscriber road, through the outbound workers, is in
``test_worker_corrections.py``; a typo in a field path in ``tests/unit/test_projection.py``.)
"""

from __future__ import annotations

import shutil
import subprocess

from click.testing import CliRunner

from hub.bootstrap import bootstrap
from hub.cli import main
from hub.config import Settings
from hub.console.trail import message_trail
from hub.envelope import read_envelope
from hub.mapping import Mappings
from hub.outbox import OutboxRelay
from hub.pipeline_types import Inbound
from hub.pki import PkiPaths
from hub.signing import Verifier
from hub.xmlsafe import parse_xml
from tests.unit.test_pipeline import ARRIVAL, FIXTURE_MAPPINGS

R = "{urn:rabt:canonical:v1}"
XMLSEC1 = shutil.which("xmlsec1")
#: WorkerArrival for licensing without the worker's birth date and gender
GRANTED = ["Worker/CivilNumber", "Worker/PassportNumber", "Worker/Name", "Worker/Nationality", "Passport",
           "VisaNumber", "PortOfEntry", "FlightNumber", "ArrivedAt", "EmployerCR", "SponsorCivilNumber",
           "LicenceNumber"]
ACCESS = f"""
[police]
may_send = ["WorkerArrival"]

[licensing]
may_send = []
fields.WorkerArrival = {GRANTED!r}
""".replace("'", '"')


def test_the_destination_takes_off_the_transport_only_its_fields_signed_and_the_log_says_so(
        broker, database_url, trust_store, pki_dir, tmp_path):
    access = tmp_path / "access.toml"
    access.write_text(ACCESS, encoding="utf-8")
    hub = bootstrap(Settings(home=tmp_path, broker_url=broker.url, database_url=database_url, access_file=access),
                    trust_store=trust_store, routes=broker.routes, mappings=Mappings(FIXTURE_MAPPINGS))
    try:
        raw = ARRIVAL.encode()
        receipt = hub.pipeline.accept(Inbound(agency="police", system="border", message_type="WorkerArrival",
                                              destination="licensing", raw=raw, source_message_id="ROP-77"),
                                      parse_xml(raw))
        transport = broker.open()
        assert OutboxRelay(hub.log, transport).drain() == 1
        taken = []
        transport.consume(broker.queue, lambda delivery: taken.append(delivery.message), max_messages=1,
                          idle_timeout=15)
        (message,) = taken
        assert message.message_id == receipt.message_id
        assert b"1991-03-14" not in message.body and b"DateOfBirth" not in message.body, "a withheld field left"
        assert b"1991-03-14" in hub.log.get(receipt.message_id).raw, "the police's input is kept as received"

        verified = Verifier(trust_store).verify(parse_xml(message.body), expected_signer="hub")
        _, body = read_envelope(verified.element)
        assert body.findtext(f"{R}Worker/{R}PassportNumber") == "T4827361"
        assert xmlsec1_verifies(pki_dir, tmp_path, message.body)

        (projected,) = [e.detail for e in hub.log.events(receipt.message_id) if e.status == "projected"]
        assert projected == (f"projection licensing/WorkerArrival: sent {', '.join(GRANTED)}; "
                             "withheld Worker/DateOfBirth, Worker/Gender")
        trail = message_trail(hub.log, hub.verifier, receipt.message_id)
        assert trail["projections"] == [{"party": "licensing", "message_type": "WorkerArrival", "sent": GRANTED,
                                         "withheld": ["Worker/DateOfBirth", "Worker/Gender"]}]
        assert trail["signature"]["valid"]
    finally:
        hub.close()
    audit = CliRunner().invoke(main, ["audit", "verify", "--database-url", database_url],
                               env={"RABT_DATABASE_URL": ""})
    assert audit.exit_code == 0 and "chain intact" in audit.output, audit.output


def xmlsec1_verifies(pki_dir, tmp_path, data: bytes) -> bool:
    """The independent check: xmlsec1 with the hub's certificate."""
    path = tmp_path / "received.xml"
    path.write_bytes(data)
    result = subprocess.run([XMLSEC1, "--verify", "--pubkey-cert-pem", str(PkiPaths(pki_dir).hub_cert), str(path)],
                            capture_output=True, timeout=30)
    return result.returncode == 0
