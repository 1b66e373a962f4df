"""Every refusal, whatever the road in, is both recorded in the message log and counted.

Driven through the real roles as production wires them (``hub.bootstrap``):
the gateway app for SOAP requests, the drop watcher for files, and an
outbound worker calling the police simulator over real HTTP for answers. A
path that refused without the pipeline's :meth:`~hub.pipeline.Pipeline.refuse`
would leave the log or ``rabt_messages_refused_total`` unchanged and fail here.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from lxml import etree

from hub.bootstrap import bootstrap, gateway_app, worker_parts
from hub.config import Settings, XmlLimits
from hub.filedrop import DropWatcher
from hub.metrics import REGISTRY
from hub.outbound import Breakers, OutboundSettings, build_worker
from hub.registry import load_adapter
from hub.transports.testing import isolated_routes
from outbound_helpers import Asker, canonical, simulator, text
from simulators.police.client import police_signer, soap_envelope
from tests.conftest import SAMPLES

MAX_BYTES = 64 * 1024
XML = "text/xml; charset=utf-8"


@pytest.fixture
def hub(tmp_path, trust_store):
    routes = isolated_routes(delays=(0.2,), max_attempts=2)
    settings = Settings(home=tmp_path, broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}",
                        xml_limits=XmlLimits(max_bytes=MAX_BYTES))
    hub = bootstrap(settings, trust_store=trust_store, routes=routes)
    with hub.open_transport() as admin:
        admin.declare(routes)
    yield hub
    hub.close()


def police_sample(operation: str, **changes: str) -> etree._Element:
    root = etree.parse(str(SAMPLES / "police" / f"{operation}.xml"), etree.XMLParser(remove_comments=True)).getroot()
    ns = root.nsmap[root.prefix]
    for path, value in {"MsgId": f"ROP-R-{uuid.uuid4().hex[:12].upper()}", **changes}.items():
        root.find("/".join(f"{{{ns}}}{step}" for step in path.split("__"))).text = value
    return root


def signed(pki_dir: Path, sample: etree._Element) -> bytes:
    return soap_envelope(police_signer(pki_dir)(sample))


def gateway_call(hub, path: str, data: bytes, content_type: str = XML) -> None:
    reply = gateway_app(hub).test_client().post(path, data=data, content_type=content_type)
    assert reply.status_code >= 400 and b"Fault>" in reply.data, reply.data


# Each case refuses one input on one road and says (agency label, code) it must be counted under.

def parse_error(hub, pki_dir, trust_store):
    gateway_call(hub, "/soap/police", b"this is not XML at all")
    return "police", "Client.Parse"


def doctype(hub, pki_dir, trust_store):
    data = b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + signed(
        pki_dir, police_sample("NotifyArrival")).split(b"?>", 1)[-1]
    gateway_call(hub, "/soap/police", data)
    return "police", "Client.Parse"


def unsigned(hub, pki_dir, trust_store):
    gateway_call(hub, "/soap/police", soap_envelope(police_sample("NotifyArrival")))
    return "police", "signature"


def off_contract(hub, pki_dir, trust_store):
    sample = police_sample("NotifyArrival", Traveller__NationalityCode="India")
    gateway_call(hub, "/soap/police", signed(pki_dir, sample))
    return "police", "schema"


def bad_signature(hub, pki_dir, trust_store):
    data = signed(pki_dir, police_sample("NotifyArrival", FlightNo="WY204"))
    gateway_call(hub, "/soap/police", data.replace(b"WY204", b"WY205", 1))
    return "police", "signature"


def not_allowed(hub, pki_dir, trust_store):
    hub.pipeline.may_send = lambda agency, message_type: message_type != "WorkerArrival"
    gateway_call(hub, "/soap/police", signed(pki_dir, police_sample("NotifyArrival")))
    return "police", "not-allowed"


def wrong_content_type(hub, pki_dir, trust_store):
    gateway_call(hub, "/soap/police", signed(pki_dir, police_sample("NotifyArrival")), "application/json")
    return "police", "Client.ContentType"


def unknown_agency(hub, pki_dir, trust_store):
    gateway_call(hub, "/soap/nosuch", signed(pki_dir, police_sample("NotifyArrival")))
    return "unknown", "Client.UnknownAgency"


def unknown_operation(hub, pki_dir, trust_store):
    gateway_call(hub, "/soap/police", soap_envelope(etree.Element("{urn:om:rop:border:2020}ServiceError")))
    return "police", "Client.UnknownOperation"


def oversize(hub, pki_dir, trust_store):
    gateway_call(hub, "/soap/police", b"<x>" + b" " * MAX_BYTES + b"</x>")
    return "police", "Client.Parse"


def file_drop(hub, pki_dir, trust_store):
    inbox = hub.settings.drop_dir / "centralbank" / "inbox"
    watcher = DropWatcher(hub.settings, [load_adapter("centralbank")], hub.pipeline)
    (inbox / "SIF_garbage.csv").write_bytes(b"this,is,not\na,salary,file\n")
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed"
    return "centralbank", "file-rejected"


def outbound_answer(hub, pki_dir, trust_store):
    with simulator("police") as police:
        police.fault(mode="malformed", count=1)
        settings = OutboundSettings(endpoints={"RABT_POLICE_CIVIL_REGISTRY_URL": police.url("civil-registry"),
                                               "RABT_POLICE_TRANSFER_URL": police.url("transfer")},
                                    attempts=1)
        worker = build_worker(worker_parts(hub), hub.adapters["police"], settings, breakers=Breakers())
        stop = threading.Event()
        with hub.open_transport() as transport:
            thread = threading.Thread(target=worker.run, args=(transport, hub.routes.queue_for("police")),
                                      kwargs={"stop": stop}, daemon=True)
            thread.start()
            try:
                with hub.open_transport() as asking:
                    _, header, body = Asker(pki_dir, trust_store, asking).ask(
                        canonical("CivilStatusQuery", CivilNumber="10000001"), "police")
            finally:
                stop.set()
                thread.join(10)
                worker.close()
    assert header.message_type == "Fault" and text(body, "Code") == "parse"
    return "police", "parse"


_CODES = ("Client.Parse", "signature", "schema", "not-allowed", "Client.ContentType", "Client.UnknownAgency",
          "Client.UnknownOperation", "file-rejected", "parse")
PATHS = [parse_error, doctype, unsigned, off_contract, bad_signature, not_allowed, wrong_content_type,
         unknown_agency, unknown_operation, oversize, file_drop, outbound_answer]


def refused_count(agency: str, code: str) -> float:
    return REGISTRY.get_sample_value("rabt_messages_refused_total", {"agency": agency, "code": code}) or 0.0


@pytest.mark.parametrize("refuse", PATHS, ids=[p.__name__ for p in PATHS])
def test_a_refusal_on_every_path_is_recorded_and_counted(hub, pki_dir, trust_store, refuse):
    before = {agency: len(hub.log.refusals(agency, limit=1000)) for agency in ("police", "centralbank", "unknown")}
    counted = {key: refused_count(*key) for key in [(a, c) for a in before for c in _CODES]}

    agency, code = refuse(hub, pki_dir, trust_store)

    refusals = hub.log.refusals(agency, limit=1000)
    assert len(refusals) == before[agency] + 1, f"{refuse.__name__} was not recorded in the message log"
    assert refusals[0].reason.startswith(f"{code}: ")
    assert refusals[0].input_size is not None and len(refusals[0].raw) <= 512
    assert refused_count(agency, code) == counted[(agency, code)] + 1, f"{refuse.__name__} was not counted"
    others = {key: refused_count(*key) - value for key, value in counted.items() if key != (agency, code)}
    assert not any(others.values()), f"counted under another label too: {others}"
    hub.log.verify_chain()

