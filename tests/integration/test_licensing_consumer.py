"""The licensing consumer with real signatures, a real database and real transports.

Direct ``handle`` calls check what each canonical message does (once);
the transport tests run over the embedded SQLite broker and, when it is up,
RabbitMQ (skipped without it unless ``RABT_REQUIRE_BROKER=1``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.conftest import unavailable
from lxml import etree

from hub.config import Settings
from hub.envelope import build_envelope, new_header
from hub.errors import CertificateError, InputError, RabtError, SchemaError, SignatureError
from hub.pki import PkiPaths, init_pki, load_certificate, load_private_key
from hub.routing import load_routes, routing_key
from hub.signing import Identity, Signer, TrustStore, Verifier
from hub.transports import Delivery, Message, open_transport
from hub.xmlsafe import parse_xml
from simulators.licensing import rules, tables
from simulators.licensing.cli import build_consumer, consume_in_threads
from simulators.licensing.config import LicensingConfig
from simulators.licensing.consumer import ApplyConflictError, LicensingConsumer
from simulators.licensing.decider import Decider
from simulators.licensing.hub_link import TransportAsk, hub_verifier, reply_to
from simulators.licensing.state import ApplicationRequest, LicensingState

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
R = "{urn:rabt:canonical:v1}"
NOW = datetime(2024, 5, 20, 8, 0, tzinfo=timezone.utc)


def sample(name: str, **fields: str) -> etree._Element:
    element = etree.parse(str(SAMPLES / f"{name}.xml"), etree.XMLParser(remove_comments=True)).getroot()
    for path, value in fields.items():
        element.find("/".join(R + step for step in path.split("__"))).text = value
    return element


# ------------------------------------------------------------------ fixtures


class Pki:
    """A development PKI: the hub signs deliveries, licensing signs its replies."""

    def __init__(self, home: Path) -> None:
        self.home = home
        root = home / "pki"
        init_pki(root, ["police", "licensing"])
        paths = PkiPaths(root)
        self.trust = TrustStore.load(root)
        self.hub = Signer(self.trust.hub)
        self.licensing = Signer(Identity("licensing", load_private_key(paths.agency_key("licensing")),
                                         load_certificate(paths.agency_cert("licensing"))))
        self.police = Signer(Identity("police", load_private_key(paths.agency_key("police")),
                                      load_certificate(paths.agency_cert("police"))))
        self.verify = hub_verifier(self.trust)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("home"))


@pytest.fixture
def state(tmp_path) -> LicensingState:
    return LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")


@pytest.fixture
def consumer(state, pki) -> LicensingConsumer:
    return LicensingConsumer(state, pki.verify, seal=pki.licensing.sign_bytes, now=lambda: NOW)


def signed(signer: Signer, body: etree._Element, *, source: str = "police", destination: str = "licensing",
           correlation_id: str | None = None):
    header = new_header(message_type=etree.QName(body).localname, source_agency=source,
                        source_system=f"{source}-sim", destination=destination,
                        raw_payload=etree.tostring(body), correlation_id=correlation_id)
    return header, signer.sign_bytes(build_envelope(header, body))


def message(header, data: bytes, reply_address: str | None = None) -> Message:
    key = routing_key(header.destination, header.message_type, header.source_agency)
    return Message(data, key, header.message_id, header.correlation_id, reply_address)


def delivery(header, data: bytes, *, redelivered: bool = False) -> Delivery:
    return Delivery(message(header, data), "licensing", 1, redelivered)


def approved_licence(state: LicensingState, vacancies=(("911101", None, 1),), licence_type="private") -> str:
    request = ApplicationRequest(licence_type, tuple(vacancies), applicant_civil_number="09123456",
                                 employer_cr="1093456")
    number = state.create_application(request, NOW)
    outcome = rules.Outcome(rules.APPROVED, (rules.Reason("all-checks-passed", "test licence"),))
    return state.record_decision(number, outcome, NOW)["licence_number"]


def vacancy_use(state: LicensingState, licence_number: str) -> list[int]:
    return [v["used"] for v in state.licence(licence_number)["vacancies"]]


# ------------------------------------------------------- applying, exactly once


def test_same_worker_arrival_delivered_twice_is_applied_once(consumer, state, pki):
    header, data = signed(pki.hub, sample("WorkerArrival"))
    consumer.handle(delivery(header, data))
    consumer.handle(delivery(header, data, redelivered=True))
    events = state.events()
    assert [(e["message_id"], e["message_type"], e["source_agency"]) for e in events] == [
        (header.message_id, "WorkerArrival", "police")]
    assert state.is_applied(header.message_id)
    assert events[0]["summary"]["worker"]["names"]["ar"] == "راجيش كومار ناير"
    rows = state.rows(tables.worker_events)
    assert len(rows) == 1 and rows[0]["passport_number"] == "T4827361"
    # the event row's summary and the worker event's detail: one text, as json.dumps writes the fields read
    assert json.loads(rows[0]["detail"]) == events[0]["summary"] and events[0]["summary"]["kind"] == "WorkerArrival"


def test_visa_issued_consumes_one_vacancy_even_when_delivered_twice(consumer, state, pki):
    licence = approved_licence(state, vacancies=(("911101", None, 2),))
    header, data = signed(pki.hub, sample("VisaIssued", LicenceNumber=licence))
    consumer.handle(delivery(header, data))
    consumer.handle(delivery(header, data, redelivered=True))
    assert vacancy_use(state, licence) == [1]
    # the police re-send the same visa: a new hub message id, the same visa number
    again, again_data = signed(pki.hub, sample("VisaIssued", LicenceNumber=licence))
    consumer.handle(delivery(again, again_data))
    assert vacancy_use(state, licence) == [1]
    assert [e["outcome"] for e in state.events()] == ["duplicate-visa", "vacancy-consumed"]
    assert [v["status"] for v in state.rows(tables.visas)] == ["issued"]


def test_visa_issued_beyond_the_vacancies_is_kept_and_flagged(consumer, state, pki):
    licence = approved_licence(state, vacancies=(("911101", None, 1),))
    for visa_number in ("EV-2024-0000001", "EV-2024-0000002"):
        header, data = signed(pki.hub, sample("VisaIssued", LicenceNumber=licence, VisaNumber=visa_number))
        consumer.handle(delivery(header, data))
    assert vacancy_use(state, licence) == [1]
    assert [e["outcome"] for e in state.events()] == ["over-quota-no-vacancy", "vacancy-consumed"]
    assert sorted(v["status"] for v in state.rows(tables.visas)) == ["issued", "over-quota"]


def test_arrival_marks_the_visa_used_and_final_exit_frees_the_vacancy(consumer, state, pki):
    licence = approved_licence(state)
    consumer.handle(delivery(*signed(pki.hub, sample("VisaIssued", LicenceNumber=licence))))
    assert consumer.visa_answer({"licence_number": licence, "licence_type": "private",
                                 "profession_code": "911101", "nationality": "PHL"}).reason.code == "no-vacancy"
    arrival = sample("WorkerArrival", VisaNumber="EV-2024-0601942", Worker__PassportNumber="P6621904B")
    consumer.handle(delivery(*signed(pki.hub, arrival)))
    assert state.rows(tables.visas)[0]["status"] == "arrived"
    leave = sample("WorkerDeparture", DepartureKind="temporary", Worker__PassportNumber="P6621904B")
    consumer.handle(delivery(*signed(pki.hub, leave)))
    assert vacancy_use(state, licence) == [1]
    final = sample("WorkerDeparture", Worker__PassportNumber="P6621904B")
    consumer.handle(delivery(*signed(pki.hub, final)))
    assert vacancy_use(state, licence) == [0]
    assert [e["outcome"] for e in state.events()] == ["vacancy-released", "recorded", "visa-used", "vacancy-consumed"]
    answer = consumer.visa_answer({"licence_number": licence, "licence_type": "private",
                                   "profession_code": "911101", "nationality": "PHL"})
    assert answer.eligible and answer.remaining == 1


def test_residence_renewal_is_recorded(consumer, state, pki):
    consumer.handle(delivery(*signed(pki.hub, sample("ResidenceRenewal"))))
    (row,) = state.rows(tables.worker_events)
    assert (row["kind"], row["civil_number"], row["employer_cr"]) == ("ResidenceRenewal", "120339847", "1254903")
    assert '"residence_expiry": "2026-04-27"' in row["detail"]


def test_salary_batch_flags_late_payer_and_inconsistent_batches(consumer, state, pki):
    consumer.handle(delivery(*signed(pki.hub, sample("SalaryBatch"), source="centralbank")))
    consumer.handle(delivery(*signed(pki.hub, sample("SalaryBatch"), source="centralbank")))  # same file again
    truncated = sample("SalaryBatch", RecordCount="4", FileReference="SIF_1093456_202404_002.csv")
    consumer.handle(delivery(*signed(pki.hub, truncated, source="centralbank")))
    batches = state.rows(tables.salary_batches)
    assert [(b["file_reference"], b["record_count"], b["line_count"], b["late_lines"], b["late_payer"])
            for b in batches] == [("SIF_1093456_202404_001.csv", 3, 3, 1, True),
                                  ("SIF_1093456_202404_002.csv", 4, 3, 1, True)]
    assert batches[1]["problems"] == '["record-count-mismatch"]'
    assert [e["outcome"] for e in state.events()] == ["flagged-record-count-mismatch", "duplicate-file", "late-payer"]


def test_labour_case_holds_the_employer_until_a_final_judgment(consumer, state, pki):
    opened = sample("LabourCaseUpdate", Event="opened", EventDate="2024-03-02")
    opened.remove(opened.find(R + "Judgment"))
    consumer.handle(delivery(*signed(pki.hub, opened, source="courts")))
    assert state.open_cases("1187720") == 1
    consumer.handle(delivery(*signed(pki.hub, sample("LabourCaseUpdate"), source="courts")))  # appealable
    assert state.open_cases("1187720") == 1
    final = sample("LabourCaseUpdate", Judgment__Final="true", EventDate="2024-09-01")
    consumer.handle(delivery(*signed(pki.hub, final, source="courts")))
    assert state.open_cases("1187720") == 0
    consumer.handle(delivery(*signed(pki.hub, opened, source="courts")))  # late copy of an old update
    assert state.open_cases("1187720") == 0
    assert [e["outcome"] for e in state.events()] == ["stale-update", "case-closed", "case-open", "case-open"]


def test_late_agency_reply_is_kept_for_the_officer(consumer, state, pki):
    consumer.handle(delivery(*signed(pki.hub, sample("Fault"), source="commerce")))
    consumer.handle(delivery(*signed(pki.hub, sample("IncomeRecord"), source="insurance")))
    events = state.events()
    assert [(e["message_type"], e["outcome"]) for e in events] == [
        ("IncomeRecord", "kept-for-officer"), ("Fault", "kept-for-officer")]
    assert events[1]["summary"]["code"] == "not-found"


# ---------------------------------------------------------------- refusals


def test_production_wiring_verifies_with_the_trust_store(pki, tmp_path):
    config = LicensingConfig(home=pki.home, database_url=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    consumer = build_consumer(config, transport=None)
    consumer.handle(delivery(*signed(pki.hub, sample("WorkerArrival"))))
    assert [e["message_type"] for e in consumer.state.events()] == ["WorkerArrival"]
    with pytest.raises(CertificateError):
        consumer.handle(delivery(*signed(pki.police, sample("WorkerArrival"))))


def test_message_is_refused_when_verify_raises(state, pki):
    def broken_verify(data: bytes):
        raise RuntimeError("HSM offline")

    consumer = LicensingConsumer(state, broken_verify)
    with pytest.raises(SignatureError) as caught:
        consumer.handle(delivery(*signed(pki.hub, sample("WorkerArrival"))))
    assert not caught.value.recoverable and "HSM offline" in caught.value.reason
    assert state.events() == [] and state.rows(tables.worker_events) == []


def test_tampered_unsigned_and_wrongly_signed_messages_are_refused(consumer, state, pki):
    header, data = signed(pki.hub, sample("WorkerArrival"))
    with pytest.raises(SignatureError, match="digest"):
        consumer.handle(delivery(header, data.replace(b"EV-2024-0583317", b"EV-2024-0583318")))
    unsigned = etree.tostring(build_envelope(header, sample("WorkerArrival")))
    with pytest.raises(SignatureError, match="not signed"):
        consumer.handle(delivery(header, unsigned))
    with pytest.raises(CertificateError):  # signed by the police, not by the hub
        consumer.handle(delivery(*signed(pki.police, sample("WorkerArrival"))))
    with pytest.raises(InputError):  # not even XML
        consumer.handle(delivery(header, b"<rabt:Envelope"))
    assert state.events() == []


def test_only_what_the_verifier_returns_is_used(state, pki):
    # The delivered bytes say WorkerArrival; the verifier vouches for a ResidenceRenewal
    # only. The consumer must act on the verifier's element, never re-read the bytes.
    _, vouched = signed(pki.hub, sample("ResidenceRenewal"))
    header, data = signed(pki.hub, sample("WorkerArrival"))
    consumer = LicensingConsumer(state, lambda _bytes: pki.verify(vouched))
    consumer.handle(delivery(header, data))
    assert [e["message_type"] for e in state.events()] == ["ResidenceRenewal"]
    assert [r["kind"] for r in state.rows(tables.worker_events)] == ["ResidenceRenewal"]


def test_signature_wrapping_is_refused(state, pki):
    # The signed envelope moved inside an attacker's root next to unsigned content.
    header, data = signed(pki.hub, sample("WorkerArrival"))
    signed_envelope = etree.tostring(parse_xml(data))
    wrapped = (b"<rabt:Envelope xmlns:rabt='urn:rabt:canonical:v1'>" + signed_envelope + b"</rabt:Envelope>")
    with pytest.raises(SignatureError):
        LicensingConsumer(state, pki.verify).handle(delivery(header, wrapped))
    assert state.events() == []


@pytest.mark.parametrize("body, destination, error, words", [
    (sample("WorkerArrival"), "commerce", InputError, "reached licensing"),
    (sample("LicenceDecision"), "licensing", InputError, "does not handle LicenceDecision"),
    (sample("WorkerArrival", VisaNumber="not a visa number"), "licensing", SchemaError, "VisaNumber"),
])
def test_wrong_or_invalid_messages_are_refused(consumer, state, pki, body, destination, error, words):
    with pytest.raises(error, match=words) as caught:
        consumer.handle(delivery(*signed(pki.hub, body, destination=destination)))
    assert not caught.value.recoverable
    assert state.events() == []


def test_visa_query_without_reply_address_is_refused(consumer, state, pki):
    with pytest.raises(InputError, match="reply address"):
        consumer.handle(delivery(*signed(pki.hub, sample("VisaEligibilityQuery"))))


class RecordingReplies:
    """Stands in for the transport's ``reply``: keeps each answer with the visa checks recorded when it left."""

    def __init__(self, state: LicensingState) -> None:
        self.state, self.sent = state, []

    def reply(self, request: Delivery, answer: Message) -> None:
        self.sent.append((answer, len(self.state.events(message_type="VisaEligibilityQuery"))))


def test_a_visa_check_is_answered_before_its_record_commits_and_fails_unacked_if_the_record_does(state, pki,
                                                                                                  monkeypatch):
    from simulators.licensing.batches import WindowCommitError

    replies = RecordingReplies(state)
    consumer = LicensingConsumer(state, pki.verify, transport=replies, seal=pki.licensing.sign_bytes, now=lambda: NOW)
    licence = approved_licence(state)
    header, data = signed(pki.hub, sample("VisaEligibilityQuery", LicenceNumber=licence, ProfessionCode="911101"))
    question = Delivery(message(header, data, "amq.rabbitmq.reply-to.test"), "licensing", 1, False)

    def database_down(*_args):
        raise WindowCommitError("the licensing database refused the commit")

    with monkeypatch.context() as patched:
        patched.setattr(state, "apply_once", database_down)
        with pytest.raises(WindowCommitError):  # so the transport does not ack: the question comes again
            consumer.handle(question)
    consumer.handle(Delivery(question.message, "licensing", 2, True))
    consumer.handle(Delivery(question.message, "licensing", 3, True))  # redelivered after the ack was lost

    # answered every time, each time before the question was recorded; recorded once
    assert [recorded for _answer, recorded in replies.sent] == [0, 0, 1]
    results = [parse_xml(answer.body).find(f"{R}Body/{R}VisaEligibilityResult") for answer, _ in replies.sent]
    assert [result.findtext(f"{R}Eligible") for result in results] == ["true"] * 3
    assert {answer.correlation_id for answer, _ in replies.sent} == {header.correlation_id}
    assert [e["outcome"] for e in state.events(message_type="VisaEligibilityQuery")] == ["eligible"]


def test_a_delivery_being_verified_in_another_thread_joins_the_window_a_leader_holds_for_it(state, pki):
    import time

    state.windows.gather = 60.0  # the other delivery's arrival ends the wait, not the bound
    verifying, release = threading.Event(), threading.Event()

    def slow_verify(data: bytes):
        verifying.set()
        assert release.wait(20)
        return pki.verify(data)

    slow = LicensingConsumer(state, slow_verify, seal=pki.licensing.sign_bytes, now=lambda: NOW)
    fast = LicensingConsumer(state, pki.verify, seal=pki.licensing.sign_bytes, now=lambda: NOW)
    first, second = (signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=p)) for p in ("T4827361", "T4827362"))
    threads = [threading.Thread(target=slow.handle, args=(delivery(*first),))]
    threads[0].start()
    assert verifying.wait(20)
    threads.append(threading.Thread(target=fast.handle, args=(delivery(*second),)))
    threads[1].start()
    deadline = time.monotonic() + 20
    while state.windows.waiting < 1:  # the second is queued, its leader waiting for the first
        assert time.monotonic() < deadline
        time.sleep(0.002)
    release.set()
    for thread in threads:
        thread.join(30)
    assert {e["message_id"] for e in state.events()} == {first[0].message_id, second[0].message_id}
    assert state.windows.commits == 1


# ------------------------------------------------------------ over transports


def serve(url, routes, queue: str, handler_for, ready: threading.Event, stop: threading.Event) -> None:
    """Consume ``queue`` in this thread with its own transport until ``stop``."""
    with open_transport(url, routes=routes) as transport:
        handler = handler_for(transport)
        ready.set()
        transport.consume(routes.queue_for(queue), handler, stop=stop)


class Servers:
    """Background consumers, stopped and joined on exit."""

    def __init__(self, url, routes) -> None:
        self.url, self.routes, self.stop, self.threads = url, routes, threading.Event(), []

    def start(self, queue: str, handler_for) -> None:
        ready = threading.Event()
        thread = threading.Thread(target=serve, args=(self.url, self.routes, queue, handler_for, ready, self.stop),
                                  daemon=True)
        thread.start()
        self.threads.append(thread)
        assert ready.wait(10)

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(15)


def test_redelivery_through_the_broker_is_applied_once(broker, state, pki):
    url, routes = broker.url, broker.routes
    header, data = signed(pki.hub, sample("WorkerArrival"))
    consumer = LicensingConsumer(state, pki.verify, now=lambda: NOW)
    with open_transport(url, routes=routes) as transport:
        transport.publish([message(header, data), message(header, data)])
        handled = transport.consume(routes.queue_for("licensing"), consumer.handle, max_messages=2, idle_timeout=5)
    assert handled == 2
    assert len(state.events()) == 1 and len(state.rows(tables.worker_events)) == 1


def test_tampered_message_is_dead_lettered_not_retried(broker, state, pki):
    url, routes = broker.url, broker.routes
    header, data = signed(pki.hub, sample("VisaIssued"))
    consumer = LicensingConsumer(state, pki.verify, now=lambda: NOW)
    with open_transport(url, routes=routes) as transport:
        transport.publish([message(header, data.replace(b"911101", b"911102"))])
        transport.consume(routes.queue_for("licensing"), consumer.handle, max_messages=1, idle_timeout=5)
        letters = transport.dead_letters()
    assert [(dl.message_id, dl.code, dl.attempts) for dl in letters] == [(header.message_id, "signature", 1)]
    assert state.events() == []


def test_visa_check_round_trip_is_signed_and_follows_the_vacancies(broker, state, pki):
    url, routes = broker.url, broker.routes
    licence = approved_licence(state)
    replies = Verifier(pki.trust)

    def ask(transport) -> etree._Element:
        header, data = signed(pki.hub, sample("VisaEligibilityQuery", LicenceNumber=licence))
        answer = transport.request(message(header, data), timeout=10)
        verified = replies.verify(parse_xml(answer.body), expected_signer="licensing").element
        assert verified.findtext(f"{R}Header/{R}CorrelationId") == header.correlation_id
        assert verified.findtext(f"{R}Header/{R}Destination") == "police"
        return verified.find(f"{R}Body/{R}VisaEligibilityResult")

    with Servers(url, routes) as servers, open_transport(url, routes=routes) as transport:
        servers.start("licensing", lambda t: LicensingConsumer(
            state, pki.verify, transport=t, seal=pki.licensing.sign_bytes, now=lambda: NOW).handle)
        before = ask(transport)
        assert (before.findtext(R + "Eligible"), before.findtext(f"{R}Reason/{R}Code"),
                before.findtext(R + "RemainingVacancies")) == ("true", "vacancy-available", "1")
        transport.publish([message(*signed(pki.hub, sample("VisaIssued", LicenceNumber=licence)))])
        after = ask(transport)
        assert (after.findtext(R + "Eligible"), after.findtext(f"{R}Reason/{R}Code")) == ("false", "no-vacancy")
    assert vacancy_use(state, licence) == [1]


def agency(pki: Pki, record_name: str, **fields):
    """A stand-in for hub + agency: checks licensing signed the query, answers with a hub-signed sample."""
    queries = Verifier(pki.trust)

    def handler_for(transport):
        def answer(delivery: Delivery) -> None:
            verified = queries.verify(parse_xml(delivery.message.body), expected_signer="licensing").element
            header_element = verified.find(R + "Header")
            request = new_header(message_type=header_element.findtext(R + "MessageType"), source_agency="licensing",
                                 source_system="licensing", destination=header_element.findtext(R + "Destination"),
                                 raw_payload=b"", correlation_id=header_element.findtext(R + "CorrelationId"))
            body = sample(record_name, **fields)
            reply_to(delivery, request, body, pki.hub.sign_bytes, transport)
        return answer
    return handler_for


def test_decider_asks_agencies_through_the_broker(broker, state, pki):
    url, routes = broker.url, broker.routes
    request = ApplicationRequest("private", (("911101", None, 1),), applicant_civil_number="09123456")
    with Servers(url, routes) as servers, open_transport(url, routes=routes) as transport:
        servers.start("insurance", agency(pki, "IncomeRecord"))
        servers.start("police", agency(pki, "CivilStatusRecord"))
        decider = Decider(state, TransportAsk(transport, pki.verify, pki.licensing.sign_bytes, timeout=10),
                          now=lambda: NOW)
        decision = decider.decide(state.create_application(request, NOW))
    assert decision["decision"] == "approved" and decision["licence_number"].startswith("PL-")


def test_decider_refers_when_an_agency_does_not_answer_in_time(broker, state, pki):
    url, routes = broker.url, broker.routes
    request = ApplicationRequest("private", (("911101", None, 1),), applicant_civil_number="09123456")
    with Servers(url, routes) as servers, open_transport(url, routes=routes) as transport:
        servers.start("insurance", agency(pki, "IncomeRecord", MonthlyWage="450.000"))
        # nobody serves the police queue
        decider = Decider(state, TransportAsk(transport, pki.verify, pki.licensing.sign_bytes, timeout=0.5),
                          now=lambda: NOW)
        decision = decider.decide(state.create_application(request, NOW))
    assert decision["decision"] == "refused"  # the insured wage alone already refuses
    assert [r["code"] for r in decision["reasons"]] == ["income-below-threshold", "civil-registry-no-answer"]
    assert "reply-timeout" in decision["reasons"][1]["text"]


def test_a_refused_query_gets_a_fault_reply_and_is_dead_lettered(broker, state, pki):
    url, routes = broker.url, broker.routes
    invalid = sample("VisaEligibilityQuery", ProfessionCode="housemaid")
    header, data = signed(pki.hub, invalid)
    with Servers(url, routes) as servers, open_transport(url, routes=routes) as transport:
        servers.start("licensing", lambda t: LicensingConsumer(
            state, pki.verify, transport=t, seal=pki.licensing.sign_bytes, now=lambda: NOW).handle)
        answer = transport.request(message(header, data), timeout=10)
        verified = Verifier(pki.trust).verify(parse_xml(answer.body), expected_signer="licensing").element
        fault = verified.find(f"{R}Body/{R}Fault")
        assert (fault.findtext(R + "Code"), fault.findtext(R + "OriginalMessageId")) == ("schema", header.message_id)
        assert "ProfessionCode" in fault.findtext(R + "Reason")
        # the reply goes out before the handler's error reaches the transport: wait for the dead letter
        deadline = time.monotonic() + 10
        while not transport.dead_letters() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [dl.message_id for dl in transport.dead_letters()] == [header.message_id]
    assert state.events() == []


# ------------------------------------------------------- databases, concurrency

PG_ADMIN_URL = os.environ.get("RABT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_state(request, tmp_path):
    """A LicensingState on SQLite, or on a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        yield LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
        return
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"rabt_licensing_{os.getpid()}_{threading.get_ident() % 10000}_{int(time.time() * 1000) % 100000}"
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL not usable: {exc}")
    state = LicensingState(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield state
    finally:
        state.engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_racing_visas_never_take_more_than_the_vacancies(any_state, pki):
    licence = approved_licence(any_state, vacancies=(("911101", None, 2),))
    consumer = LicensingConsumer(any_state, pki.verify, now=lambda: NOW)
    deliveries = [delivery(*signed(pki.hub, sample("VisaIssued", LicenceNumber=licence,
                                                    VisaNumber=f"EV-2024-000000{i}"))) for i in range(6)]
    # each visa delivered twice, all at once from several workers
    work = deliveries + deliveries
    errors: list[BaseException] = []

    def run(items) -> None:
        try:
            for item in items:
                consumer.handle(item)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert vacancy_use(any_state, licence) == [2]
    statuses = sorted(v["status"] for v in any_state.rows(tables.visas))
    assert statuses == ["issued", "issued", "over-quota", "over-quota", "over-quota", "over-quota"]
    assert len(any_state.events()) == 6


def test_arrivals_are_stored_and_use_their_visa_once_on_either_database_with_their_receipt_outcomes(any_state, pki):
    from simulators.licensing.receipt_store import ReceiptStore
    from simulators.licensing.receipts import ReceiptSender

    receipts = ReceiptSender(lambda: None, pki.licensing.sign_bytes, store=ReceiptStore(any_state.engine))
    receipts.attach(any_state.windows)  # outcomes kept in the window's commit; the sending thread not started
    consumer = LicensingConsumer(any_state, pki.verify, now=lambda: NOW, receipts=receipts)
    licence = approved_licence(any_state)
    consumer.handle(delivery(*signed(pki.hub, sample("VisaIssued", LicenceNumber=licence))))
    arrivals = [sample("WorkerArrival", VisaNumber=visa, Worker__PassportNumber=passport)
                for visa, passport in (("EV-2024-0601942", "P6621904B"), ("EV-2024-0601942", "P6621904B"),
                                       ("EV-2024-0000404", "P0000404C"))]
    headers = []
    for arrival in arrivals:
        header, data = signed(pki.hub, arrival)
        consumer.handle(delivery(header, data))
        headers.append(header)
    # latest first: a visa already used, and one never issued, are used no more
    assert [e["outcome"] for e in any_state.events()] == [
        "recorded-visa-unknown", "recorded-visa-unknown", "visa-used", "vacancy-consumed"]
    assert [v["status"] for v in any_state.rows(tables.visas)] == ["arrived"]
    rows = any_state.rows(tables.worker_events)
    passports = ("P6621904B", "P6621904B", "P0000404C")
    assert sorted((row["message_id"], row["passport_number"], row["kind"]) for row in rows) == sorted(
        (header.message_id, passport, "WorkerArrival") for header, passport in zip(headers, passports))
    assert {json.loads(row["detail"])["kind"] for row in rows} == {"WorkerArrival"}
    waiting = [outcome for _row, outcome in receipts.store.waiting(10)]
    assert [(mid, result) for mid, result, _code, _reason in waiting[1:]] == [(h.message_id, "applied") for h in headers]


def test_a_unique_key_collision_is_retried_not_dead_lettered(consumer, state, pki):
    header, data = signed(pki.hub, sample("WorkerArrival"))
    with state.engine.begin() as conn:  # as if another worker's row for this message were already there
        conn.execute(tables.events.insert().values(
            message_id=header.message_id, message_type="WorkerArrival", source_agency="police",
            applied_at="2024-05-20T08:00:00.000Z", outcome="recorded", summary="{}"))
    with pytest.raises(ApplyConflictError) as caught:
        consumer.handle(delivery(header, data))
    assert caught.value.recoverable
    assert state.rows(tables.worker_events) == []  # rolled back with the idempotency mark
    assert not state.is_applied(header.message_id)


# ------------------------------------------------ changes settled before the ack


def ready(transport, routes) -> int:
    """Messages waiting on licensing's queue (none once everything was acked)."""
    return next(q.ready for q in transport.queue_stats() if q.name == routes.queue_for("licensing"))


def later(header, data: bytes, *, attempt: int = 1, redelivered: bool = False) -> Delivery:
    """A delivery whose transport waits for ``settle()`` before it acks it (RabbitMQ's consume loop)."""
    return Delivery(message(header, data), "licensing", attempt, redelivered, ack_after_settle=True)


def test_a_delivery_acked_after_settle_is_queued_and_settle_commits_the_threads_changes_in_one_window(consumer,
                                                                                                      state, pki):
    arrivals = [signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=f"T48273{i}")) for i in range(3)]
    for item in arrivals + arrivals[:1]:  # the first one twice
        consumer.handle(later(*item))
    assert state.events() == [] and state.windows.commits == 0  # nothing committed yet: nothing may be acked
    consumer.settle()
    assert sorted(e["message_id"] for e in state.events()) == sorted(h.message_id for h, _ in arrivals)
    assert len(state.rows(tables.worker_events)) == 3 and state.windows.commits == 1
    consumer.settle()  # nothing left: no window
    assert state.windows.commits == 1


def test_a_delivery_that_came_before_is_applied_at_once_even_when_its_ack_waits_for_settle(consumer, state, pki):
    first, second = (signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=p))
                     for p in ("T4827361", "T4827362"))
    consumer.handle(later(*first, redelivered=True))
    consumer.handle(later(*second, attempt=2))  # a delayed retry
    assert len(state.events()) == 2 and state.windows.commits == 2


def test_a_collision_found_when_settling_is_a_recoverable_conflict_and_nothing_of_it_is_applied(consumer, state,
                                                                                                 pki):
    header, data = signed(pki.hub, sample("WorkerArrival"))
    with state.engine.begin() as conn:  # as if another worker's row for this message were already there
        conn.execute(tables.events.insert().values(
            message_id=header.message_id, message_type="WorkerArrival", source_agency="police",
            applied_at="2024-05-20T08:00:00.000Z", outcome="recorded", summary="{}"))
    good = signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber="T4827369"))
    consumer.handle(later(header, data))
    consumer.handle(later(*good))
    with pytest.raises(ApplyConflictError) as caught:
        consumer.settle()
    assert caught.value.recoverable and caught.value.message_id == header.message_id
    assert not state.is_applied(header.message_id) and state.is_applied(good[0].message_id)
    assert [row["passport_number"] for row in state.rows(tables.worker_events)] == ["T4827369"]


def test_over_the_broker_a_consumer_settling_before_its_acks_commits_once_per_ack_not_per_delivery(broker, state,
                                                                                                    pki):
    arrivals = [signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=f"T48273{i}")) for i in range(8)]
    consumer = LicensingConsumer(state, pki.verify, now=lambda: NOW)
    with open_transport(broker.url, routes=broker.routes) as transport:
        transport.publish([message(*item) for item in arrivals + arrivals[:1]])  # the first one twice
        handled = transport.consume(broker.routes.queue_for("licensing"), consumer, idle_timeout=1.0)
        assert ready(transport, broker.routes) == 0 and not transport.dead_letters()
    assert handled == 9
    assert sorted(e["message_id"] for e in state.events()) == sorted(h.message_id for h, _ in arrivals)
    assert len(state.rows(tables.worker_events)) == 8
    if broker.name == "amqp":  # the deliveries held for one ack (0.2 s at most) share its commit
        assert state.windows.commits <= 3
    else:  # acked as its handler returns: each delivery committed on its own
        assert state.windows.commits == 9


def test_over_the_broker_a_poison_found_when_settling_is_dead_lettered_alone_and_the_rest_applied_once(broker,
                                                                                                      state, pki):
    arrivals = [signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=f"T48273{i}")) for i in range(4)]
    poison = signed(pki.hub, sample("VisaIssued", IssuedAt="2024-05-21T24:00:00Z"))  # schema-valid, no such hour
    consumer = LicensingConsumer(state, pki.verify, now=lambda: NOW)
    with open_transport(broker.url, routes=broker.routes) as transport:
        transport.publish([message(*item) for item in arrivals[:2] + [poison] + arrivals[2:]])
        transport.consume(broker.routes.queue_for("licensing"), consumer, idle_timeout=1.0)
        letters = transport.dead_letters()
        assert ready(transport, broker.routes) == 0
    # on RabbitMQ the failed settle requeued all five; their redeliveries were applied at once, each on its own
    assert [(dl.message_id, dl.code, dl.attempts) for dl in letters] == [(poison[0].message_id, "input", 1)]
    assert sorted(e["message_id"] for e in state.events()) == sorted(h.message_id for h, _ in arrivals)
    assert len(state.rows(tables.worker_events)) == 4 and state.rows(tables.visas) == []
    assert not state.is_applied(poison[0].message_id)


# ------------------------------------------------------- windows of messages


def consume_one_each(url, routes, consumer: LicensingConsumer, stop: threading.Event, count: int) -> list:
    """``count`` consumer threads, each with its own transport and a prefetch of one: started threads."""
    def run() -> None:
        with open_transport(url, routes=routes) as transport:
            transport.consume(routes.queue_for("licensing"), consumer.handle, prefetch=1, stop=stop)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_a_window_with_a_redelivery_and_a_poison_message_applies_the_good_ones_once(broker, state, pki, tmp_path):
    url, routes = broker.url, broker.routes
    arrivals = [signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=f"T48273{i}")) for i in range(3)]
    poison = signed(pki.hub, sample("VisaIssued", IssuedAt="2024-05-21T24:00:00Z"))  # schema-valid, no such hour
    work = [arrivals[0], arrivals[1], arrivals[0], poison, arrivals[2]]  # arrival 0 redelivered
    consumer = LicensingConsumer(state, pki.verify, now=lambda: NOW)
    # Licensing's database is locked: the first delivery's commit waits, the other four queue behind it.
    lock = sqlite3.connect(tmp_path / "licensing.sqlite3", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    stop = threading.Event()
    with open_transport(url, routes=routes) as transport:
        transport.publish([message(*item) for item in work])
        threads = consume_one_each(url, routes, consumer, stop, len(work))
        try:
            deadline = time.monotonic() + 20
            while state.windows.waiting < len(work):
                assert time.monotonic() < deadline, "deliveries did not all reach the window"
                time.sleep(0.01)
            lock.execute("ROLLBACK")
            while state.windows.waiting or len(transport.dead_letters()) < 1:
                assert time.monotonic() < deadline + 20, "the window was not settled"
                time.sleep(0.01)
            letters = transport.dead_letters()
        finally:
            stop.set()
            for thread in threads:
                thread.join(15)
            lock.close()
    assert state.windows.commits == 2  # the first delivery alone, then the four that queued behind it
    assert sorted(e["message_id"] for e in state.events()) == sorted(h.message_id for h, _ in arrivals)
    assert len(state.rows(tables.worker_events)) == 3 and state.rows(tables.visas) == []
    assert [(dl.message_id, dl.code) for dl in letters] == [(poison[0].message_id, "input")]
    assert "24:00:00" in letters[0].reason and not state.is_applied(poison[0].message_id)


def test_the_consume_command_threads_apply_everything_once_and_stop_when_idle(pki, tmp_path):
    settings = Settings.from_env({"RABT_HOME": str(pki.home), "RABT_BROKER_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}"})
    config = LicensingConfig(home=pki.home, database_url=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    arrivals = [signed(pki.hub, sample("WorkerArrival", Worker__PassportNumber=f"T{i:07d}")) for i in range(40)]
    with open_transport(settings.effective_broker_url, routes=load_routes()) as transport:
        transport.declare(load_routes())
        transport.publish([message(*item) for item in arrivals + arrivals[:10]])  # ten redelivered
    # one thread may claim all 50 at once (prefetch 64) while the others idle: their idle timeout must outlast
    # its work even on a loaded host, or the first to go idle stops it halfway (this also sends receipts now)
    handled = consume_in_threads(config, settings, 3, idle_timeout=5.0, stop=threading.Event())
    assert handled == 50
    state = LicensingState(config.effective_database_url)
    assert sorted(e["message_id"] for e in state.events()) == sorted(h.message_id for h, _ in arrivals)
    assert len(state.rows(tables.worker_events)) == 40


def test_the_consume_command_raises_what_stopped_a_consumer_thread(pki, tmp_path):
    settings = Settings.from_env({"RABT_HOME": str(pki.home), "RABT_BROKER_URL": "nosuch://broker"})
    config = LicensingConfig(home=pki.home, database_url=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    with pytest.raises(RabtError):
        consume_in_threads(config, settings, 2, idle_timeout=1.0, stop=threading.Event())


@pytest.mark.parametrize(("broker_url", "given", "threads"), [
    ("amqp://guest:guest@127.0.0.1:5672/", None, 2),  # commits once per ack: two threads keep up
    ("sqlite:///{home}/broker.sqlite3", None, 8),  # commits before each ack: eight threads share them
    ("amqp://guest:guest@127.0.0.1:5672/", "5", 5)])
def test_the_consume_command_runs_two_threads_on_rabbitmq_and_eight_on_the_sqlite_broker_unless_told(
        pki, tmp_path, monkeypatch, broker_url, given, threads):
    from click.testing import CliRunner

    from simulators.licensing import cli

    started = []
    monkeypatch.setattr(cli, "consume_in_threads", lambda config, settings, count, **_: started.append(count) or 0)
    monkeypatch.setenv("RABT_HOME", str(pki.home))
    monkeypatch.setenv("RABT_BROKER_URL", broker_url.format(home=tmp_path))
    result = CliRunner().invoke(cli.licensing, ["consume"] + (["--threads", given] if given else []))
    assert result.exit_code == 0, result.output
    assert started == [threads]
