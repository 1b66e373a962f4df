"""Delivery receipts, end to end on each transport: the hub publishes to licensing, the real licensing
consumer applies in commit windows and sends signed DeliveryReceipts back through the broker, the
hub's receipts role checks and stores them and chains ``applied`` / ``failed`` on each message's trail.
Also: a receipt the hub must refuse, one sent twice, and one the broker did not take at first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from console_support import accept_arrival, make_hub, relay
from lxml import etree

from hub.bootstrap import receipts_loops
from hub.config import Settings
from hub.envelope import build_envelope, canonical_envelope, new_header
from hub.errors import AccessDeniedError, InputError, SignatureError
from hub.messagelog import Accepted
from hub.outage import Pause, Watch
from hub.pki import PkiPaths, load_certificate, load_private_key
from hub.receipts import ReceiptDesk
from hub.routing import routing_key
from hub.signing import Identity, Signer
from hub.transports import Delivery, Message
from simulators.licensing.cli import build_consumer, receipt_sender
from simulators.licensing.config import LicensingConfig
from simulators.licensing.hub_link import consume_until_stopped, licensing_seal
from simulators.licensing.receipts import ReceiptSender
from simulators.licensing.state import LicensingState

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
pytestmark = pytest.mark.timeout(120)


def statuses(hub, message_id: str) -> list[str]:
    return [event.status for event in hub.log.events(message_id)]


def wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def store_for(hub, message_type: str, destination: str = "licensing") -> str:
    """A hub-signed canonical message for ``destination``, stored and queued as the pipeline would."""
    body = etree.parse(str(SAMPLES / f"{message_type}.xml"), etree.XMLParser(remove_comments=True)).getroot()
    raw = etree.tostring(body)
    header = new_header(message_type=message_type, source_agency="police", source_system="test",
                        destination=destination, raw_payload=raw)
    envelope = hub.signer.sign_canonical(canonical_envelope(header, body))
    return hub.log.accept(Accepted.from_header(header, raw, envelope))


@pytest.fixture
def hub(tmp_path, trust_store, pki_dir, broker):
    running = make_hub(tmp_path, trust_store, routes=broker.routes, broker_url=broker.url)
    yield running
    running.close()


@pytest.fixture
def licensing_home(tmp_path, pki_dir) -> Path:
    home = tmp_path / "licensing-home"
    home.mkdir()
    (home / "pki").symlink_to(pki_dir)
    return home


def run_licensing(hub, broker, home: Path) -> ReceiptSender:
    """The licensing consumer as ``consume`` wires it (one thread), until its queue is idle."""
    config = LicensingConfig(home=home, database_url=f"sqlite:///{home / 'licensing.sqlite3'}")
    settings = Settings(home=home, broker_url=broker.url)
    state = LicensingState(config.effective_database_url)
    sender = receipt_sender(config, settings, state, broker.routes)
    with broker.open() as transport:
        consumer = build_consumer(config, transport, state, sender)
        consume_until_stopped(transport, broker.routes, consumer.handle, threading.Event(), idle_timeout=1.0)
    return sender


def run_receipts_role(hub, until) -> None:
    """The hub's receipts role in a thread until ``until()`` holds."""
    [(name, loop)] = receipts_loops(hub)
    assert name == "receipts"
    stop = threading.Event()
    thread = threading.Thread(target=loop, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(until)
    finally:
        stop.set()
        thread.join(10)


def test_applied_and_failed_come_back_as_receipts_on_each_trail(hub, broker, licensing_home):
    arrivals = [accept_arrival(hub, f"R55500{n}") for n in range(3)]
    unhandled = store_for(hub, "LicenceDecision")  # valid, signed, but nothing licensing applies
    with broker.open() as transport:
        assert relay(hub, transport) == 4
    sender = run_licensing(hub, broker, licensing_home)
    wait_for(lambda: sender.sent >= 1 and not sender.unsent and not sender.waiting)
    sender.close()

    run_receipts_role(hub, lambda: all("applied" in statuses(hub, mid) for mid in arrivals)
                      and "failed" in statuses(hub, unhandled))
    for arrival in arrivals:
        assert statuses(hub, arrival) == ["received", "published", "applied"]
        [applied] = [e for e in hub.log.events(arrival) if e.status == "applied"]
        assert applied.detail.startswith("licensing applied it (receipt ") and applied.actor is None
    [failed] = [e for e in hub.log.events(unhandled) if e.status == "failed"]
    assert "licensing failed to apply it: [input] licensing does not handle LicenceDecision" in failed.detail
    receipts = hub.log.find(message_type="DeliveryReceipt")
    assert receipts and {r.source_agency for r in receipts} == {"licensing"}
    assert all(r.destination == "hub" for r in receipts)
    assert hub.log.verify_chain().ok


def test_a_redelivered_message_is_chained_as_applied_before(hub, broker, licensing_home):
    arrival = accept_arrival(hub, "R5560001")
    with broker.open() as transport:
        relay(hub, transport)
    first = run_licensing(hub, broker, licensing_home)
    wait_for(lambda: first.sent >= 1)
    first.close()
    hub.log.replay(arrival, "operator", "again")  # the operator sends it once more
    with broker.open() as transport:
        relay(hub, transport)
    second = run_licensing(hub, broker, licensing_home)
    wait_for(lambda: second.sent >= 1)
    second.close()
    run_receipts_role(hub, lambda: statuses(hub, arrival).count("applied") == 2)
    details = [e.detail for e in hub.log.events(arrival) if e.status == "applied"]
    assert details[0].startswith("licensing applied it")
    assert details[1].startswith("licensing had applied it before; this delivery changed nothing")


# ---------------------------------------------------------------- the hub's side, receipt by receipt


def identity(pki_dir: Path, party: str) -> Signer:
    paths = PkiPaths(pki_dir)
    return Signer(Identity(party, load_private_key(paths.agency_key(party)), load_certificate(paths.agency_cert(party))))


def receipt(signer: Signer, outcomes, *, source: str = "licensing") -> Delivery:
    from simulators.licensing.answer_text import delivery_receipt
    from simulators.licensing.state import utc_text
    from datetime import datetime, timezone

    content = delivery_receipt("licensing", utc_text(datetime.now(timezone.utc)), outcomes)
    header = new_header(message_type="DeliveryReceipt", source_agency=source, source_system=source,
                        destination="hub", raw_payload=content)
    data = signer.sign_bytes(build_envelope(header, etree.fromstring(content)))
    key = routing_key("hub", "DeliveryReceipt", source)
    return Delivery(Message(data, key, header.message_id), "hub", 1, False)


@pytest.fixture
def plain_hub(tmp_path, trust_store):
    running = make_hub(tmp_path, trust_store)
    yield running
    running.close()


def test_a_receipt_sent_twice_is_chained_once(plain_hub, pki_dir):
    arrival = accept_arrival(plain_hub, "R5570001")
    desk = ReceiptDesk(plain_hub.pipeline)
    once = receipt(identity(pki_dir, "licensing"), [(arrival, "applied", None, None)])
    first, again = desk.handle(once), desk.handle(once)
    assert not first.duplicate and again.duplicate and again.message_id == first.message_id
    assert statuses(plain_hub, arrival) == ["received", "applied"]
    stored = plain_hub.log.get(first.message_id)
    assert stored.raw == once.message.body  # kept as received, beside the hub's own signed envelope
    assert plain_hub.verifier.verify(etree.fromstring(stored.envelope), expected_signer="hub")


def test_receipts_the_hub_must_refuse(plain_hub, pki_dir):
    arrival = accept_arrival(plain_hub, "R5580001")
    desk = ReceiptDesk(plain_hub.pipeline)
    # police may not report deliveries (access.toml)
    with pytest.raises(AccessDeniedError):
        desk.handle(receipt(identity(pki_dir, "police"), [(arrival, "applied", None, None)], source="police"))
    # signed by police, claiming to come from licensing
    with pytest.raises(SignatureError):
        desk.handle(receipt(identity(pki_dir, "police"), [(arrival, "applied", None, None)]))
    # licensing may send a LicenceDecision, but not to the hub's receipts desk
    decision = etree.parse(str(SAMPLES / "LicenceDecision.xml"), etree.XMLParser(remove_comments=True)).getroot()
    header = new_header(message_type="LicenceDecision", source_agency="licensing", source_system="licensing",
                        destination="hub", raw_payload=etree.tostring(decision))
    data = identity(pki_dir, "licensing").sign_bytes(build_envelope(header, decision))
    with pytest.raises(InputError, match="takes DeliveryReceipt only"):
        desk.handle(Delivery(Message(data, "hub.LicenceDecision.licensing", header.message_id), "hub", 1, False))
    assert statuses(plain_hub, arrival) == ["received"]
    assert len(plain_hub.log.refusals()) == 3


def test_an_outcome_for_another_destination_is_not_chained(plain_hub, pki_dir):
    ours = accept_arrival(plain_hub, "R5590001")
    theirs = store_for(plain_hub, "LicenceDecision", destination="police")
    ReceiptDesk(plain_hub.pipeline).handle(receipt(identity(pki_dir, "licensing"), [
        (ours, "applied", None, None), (theirs, "applied", None, None)]))
    assert statuses(plain_hub, ours)[-1] == "applied"
    assert "applied" not in statuses(plain_hub, theirs)


def test_a_receipt_the_broker_did_not_take_is_sent_again(tmp_path, pki_dir, caplog):
    from hub.routing import load_routes
    from hub.transports import open_transport

    routes = load_routes()
    url = f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    with open_transport(url, routes=routes) as admin:
        admin.declare(routes)
    tries = []

    def flaky():
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise ConnectionError("broker unreachable")
        return open_transport(url, routes=routes)

    sender = ReceiptSender(flaky, licensing_seal(pki_dir), watch=Watch("test-receipts", "broker",
                                                                        pause=Pause(first=0.05, cap=0.2))).start()
    began = time.monotonic()
    sender.window_committed([("3f0c9a52-7d1e-4b8a-9c61-2e5d8f40a7b3", True)])
    assert time.monotonic() - began < 0.05  # handing over does not wait for the broker
    wait_for(lambda: sender.sent == 1, 10)
    sender.close()
    assert len(tries) == 3
    said = [r.getMessage() for r in caplog.records if r.name == "hub.outage"]
    assert [line.split(":")[1].strip() for line in said] == ["broker unreachable", "broker reachable again after 0 s"]
    with open_transport(url, routes=routes) as transport:
        got = []
        transport.consume(routes.queue_for("hub"), lambda d: got.append(d.message.body), idle_timeout=0.5)
    assert len(got) == 1 and b"DeliveryReceipt" in got[0]



def test_windows_committed_close_together_go_out_in_one_receipt_and_a_large_gathering_is_split(tmp_path, pki_dir):
    """The sender gathers what several windows (and a refused delivery) tell into one signed receipt."""
    import uuid

    from hub.routing import load_routes
    from hub.transports import open_transport
    from hub.xmlsafe import parse_xml
    from simulators.licensing.receipts import MAX_OUTCOMES

    routes, url = load_routes(), f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    with open_transport(url, routes=routes) as admin:
        admin.declare(routes)
    sender = ReceiptSender(lambda: open_transport(url, routes=routes), licensing_seal(pki_dir), gather=30.0).start()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    sender.window_committed([(ids[0], True)])
    sender.window_committed([(ids[1], False)])
    sender.failed(ids[2], InputError("not for licensing"))
    many = [(str(uuid.uuid4()), True) for _ in range(MAX_OUTCOMES)]
    sender.window_committed(many)  # the gathering is full: sealed then, not after the 30 s
    wait_for(lambda: sender.sent >= 2 and not sender.waiting and not sender.unsent, 20)
    sender.close()
    with open_transport(url, routes=routes) as transport:
        got = []
        transport.consume(routes.queue_for("hub"), lambda d: got.append(d.message.body), idle_timeout=0.5)
    listed = [[(o.findtext("{*}MessageId"), o.findtext("{*}Result"))
               for o in parse_xml(body).iter("{urn:rabt:canonical:v1}Outcome")] for body in got]
    assert [len(outcomes) for outcomes in listed] == [MAX_OUTCOMES, 3]
    assert listed[0][:3] == [(ids[0], "applied"), (ids[1], "duplicate"), (ids[2], "failed")]
    assert listed[1] == [(mid, "applied") for mid, _ in many[-3:]]
