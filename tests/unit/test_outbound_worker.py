"""The outbound worker refuses queries it cannot trust before any agency is called; settings from env."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.bootstrap import bootstrap, outbound_worker_loops, worker_parts
from hub.config import Settings
from hub.envelope import build_envelope, new_header
from hub.errors import AccessDeniedError, ConfigError, InputError, SignatureError
from hub.messagelog import open_message_log
from hub.outbound import (
    Breakers,
    OutboundSettings,
    build_worker,
    outbound_adapters,
)
from hub.pki import PkiPaths, load_certificate, load_private_key
from hub.routing import routing_key
from hub.signing import Identity, Signer
from hub.transports import Delivery, Message

R = "urn:rabt:canonical:v1"
UNREACHABLE = "http://127.0.0.1:9/soap/civil-registry"  # never called: every query here is refused first


def signer(pki_dir: Path, party: str) -> Signer:
    paths = PkiPaths(pki_dir)
    return Signer(Identity(party, load_private_key(paths.agency_key(party)), load_certificate(paths.agency_cert(party))))


@pytest.fixture
def hub(tmp_path, trust_store):
    hub = bootstrap(Settings(home=tmp_path), trust_store=trust_store,
                    log=open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}"))
    yield hub
    hub.close()


@pytest.fixture
def worker(hub):
    settings = OutboundSettings(endpoints={"RABT_POLICE_CIVIL_REGISTRY_URL": UNREACHABLE,
                                           "RABT_POLICE_TRANSFER_URL": UNREACHABLE})
    return build_worker(worker_parts(hub), hub.adapters["police"], settings, breakers=Breakers())


def delivery(seal, *, source="licensing", destination="police", kind="CivilStatusQuery") -> Delivery:
    body = etree.Element(f"{{{R}}}{kind}", nsmap={"rabt": R})
    etree.SubElement(body, f"{{{R}}}CivilNumber").text = "10000001"
    header = new_header(message_type=kind, source_agency=source, source_system=source, destination=destination,
                        raw_payload=etree.tostring(body))
    data = seal(build_envelope(header, body))
    return Delivery(Message(data, routing_key(destination, kind, source), header.message_id, reply_to="r"),
                    "police", 1, False)


def test_unsigned_query_is_refused(worker):
    with pytest.raises(SignatureError, match="not signed"):
        worker.handle(delivery(etree.tostring))


def test_query_signed_by_someone_else_than_its_sender_is_refused(worker, pki_dir):
    with pytest.raises(SignatureError, match="signed by 'commerce'"):
        worker.handle(delivery(signer(pki_dir, "commerce").sign_bytes))


def test_tampered_query_is_refused(worker, pki_dir):
    good = delivery(signer(pki_dir, "licensing").sign_bytes)
    tampered = good.message.body.replace(b"10000001", b"10000002")
    with pytest.raises(SignatureError):
        worker.handle(Delivery(Message(tampered, good.message.routing_key, good.message.message_id), "police", 1,
                               False))


def test_query_for_another_agency_is_refused(worker, pki_dir):
    with pytest.raises(InputError, match="for 'commerce'"):
        worker.handle(delivery(signer(pki_dir, "licensing").sign_bytes, destination="commerce"))


def test_sender_without_the_right_is_refused(worker, pki_dir):
    with pytest.raises(AccessDeniedError, match="'courts' may not send CivilStatusQuery"):
        worker.handle(delivery(signer(pki_dir, "courts").sign_bytes, source="courts"))


def test_settings_from_env_read_each_adapters_endpoint_and_tuning(hub):
    env = {"RABT_POLICE_CIVIL_REGISTRY_URL": "http://x/civil", "RABT_OUTBOUND_TIMEOUT": "2.5",
           "RABT_OUTBOUND_ATTEMPTS": "4", "UNRELATED": "1"}
    settings = OutboundSettings.from_env(outbound_adapters(hub.adapters), env)
    assert settings.endpoints == {"RABT_POLICE_CIVIL_REGISTRY_URL": "http://x/civil"}
    assert (settings.call_timeout, settings.attempts) == (2.5, 4)
    with pytest.raises(ConfigError, match="RABT_OUTBOUND_ATTEMPTS"):
        OutboundSettings.from_env([], {"RABT_OUTBOUND_ATTEMPTS": "many"})
    with pytest.raises(ConfigError, match="set RABT_COMMERCE_REGISTRY_URL"):
        settings.endpoint("RABT_COMMERCE_REGISTRY_URL", agency="commerce")


def test_worker_loops_skip_unconfigured_adapters_unless_named(hub):
    env = {"RABT_POLICE_CIVIL_REGISTRY_URL": UNREACHABLE, "RABT_POLICE_TRANSFER_URL": UNREACHABLE}
    assert [name for name, _ in outbound_worker_loops(hub, env=env)] == ["police"]
    with pytest.raises(ConfigError, match="RABT_COMMERCE"):
        outbound_worker_loops(hub, ["commerce"], env=env)
    with pytest.raises(ConfigError, match="no adapter named polise"):
        outbound_worker_loops(hub, ["polise"], env=env)
    with pytest.raises(ConfigError, match="centralbank"):
        outbound_worker_loops(hub, ["centralbank"], env=env)


def test_one_system_with_two_operations_gets_a_client_for_each(hub):
    # the labour court offers referrals and case-status look-ups on one service and one URL
    settings = OutboundSettings(endpoints={"RABT_COURTS_LABOUR_COURT_URL": "http://127.0.0.1:9/soap/labour-court"})
    worker = build_worker(worker_parts(hub), hub.adapters["courts"], settings, breakers=Breakers())
    calls = {key: client.service.operation for key, client in worker.clients.items()}
    assert calls == {("labour-court", "ReceiveComplaintReferral"): "ReceiveComplaintReferral",
                     ("labour-court", "GetCaseStatus"): "GetCaseStatus"}
    assert {c.request_element.localname for c in worker.clients.values()} == {"ReceiveComplaintReferral", "GetCaseStatus"}
    assert list(worker.service_states()) == ["courts/labour-court"]  # one system, one circuit
    worker.close()
