"""Outbound SOAP end to end: licensing asks over a real transport, a worker calls a real simulator.

Every exchange runs over the embedded SQLite broker and over RabbitMQ (a
unique exchange/queue prefix per test; skipped without a broker unless
RABT_REQUIRE_BROKER=1). Simulators are the agencies' Flask apps served over
real HTTP on 127.0.0.1; answers are checked against the simulator's
deterministic population.
"""

from __future__ import annotations

import time

import pytest

from outbound_helpers import FAST, Asker, canonical, late_answer, police_worker, text, wait_for
from outbound_helpers import broker_routes, rig  # noqa: F401 - fixtures this module's tests take

from hub.outbox import OutboxRelay

@pytest.fixture
def asker(rig, pki_dir, trust_store):
    with rig.open_transport() as transport:
        yield Asker(pki_dir, trust_store, transport)


@pytest.fixture
def police(rig):
    with police_worker(rig, **FAST) as sim:
        yield sim


# ------------------------------------------------------------------ police civil registry


def test_civil_status_of_a_known_citizen(asker, police, rig):
    citizen = police.population.find_citizen(marital_status="married")
    query, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
    assert header.message_type == "CivilStatusRecord"
    assert header.correlation_id == query.correlation_id and header.destination == "licensing"
    assert (header.source_agency, header.source_system) == ("police", "civil-registry")
    assert header.source_message_id == query.message_id  # one answer per query
    assert text(body, "Citizen/CivilNumber") == citizen.civil_number
    assert text(body, "MaritalStatus") == "married"
    assert text(body, "Citizen/DateOfBirth") == citizen.date_of_birth.isoformat()
    assert text(body, "Citizen/Nationality") == "OMN"
    assert text(body, "Citizen/Gender") == {"M": "male", "F": "female"}[citizen.gender]
    assert text(body, "SpouseCivilNumber") == citizen.spouse_civil_number
    stored = rig.hub.log.get(header.message_id)
    assert stored is not None and stored.message_type == "CivilStatusRecord"
    assert b"GetMaritalStatusResponse" in stored.raw  # the agency's answer exactly as received


def test_unknown_civil_number_is_a_not_found_fault(asker, police):
    _, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="19999999"), "police")
    assert header.message_type == "Fault"
    assert text(body, "Code") == "not-found"
    assert text(body, "Agency") == "police"
    assert text(body, "Recoverable") == "false"
    assert "19999999" in text(body, "Reason")
    assert "CS-1404" in text(body, "Detail")


def test_a_redelivered_query_is_answered_from_the_log_without_calling_again(asker, police, rig):
    citizen = police.population.citizen(7)
    _, message = asker.message(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
    first_header, _ = asker.ask_message(message)
    police.fault(mode="soap-fault", count=1)  # a second call would meet this fault
    second_header, body = asker.ask_message(message)
    assert second_header.message_id == first_header.message_id
    assert text(body, "Citizen/CivilNumber") == citizen.civil_number
    assert len(police.rules()) == 1, "the agency was called a second time"
    assert len(rig.hub.log.find(correlation_id=first_header.correlation_id)) == 1


def test_soap_fault_from_the_agency_becomes_a_canonical_fault(asker, police):
    police.fault(mode="soap-fault", count=1, fault_text="back end down for maintenance")
    _, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="10000001"), "police")
    assert header.message_type == "Fault"
    assert text(body, "Code") == "agency-error"
    assert text(body, "Recoverable") == "true"
    assert "maintenance" in text(body, "Reason")


@pytest.mark.parametrize("rule, reason", [
    ({"mode": "malformed"}, "not well-formed"),
    ({"mode": "hostile", "payload": "xxe"}, "DOCTYPE is not allowed"),
    ({"mode": "hostile", "payload": "billion-laughs"}, "DOCTYPE is not allowed"),
])
def test_malformed_or_hostile_answers_are_refused_with_a_reason(asker, police, rig, rule, reason):
    police.fault(count=1, **rule)
    query, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="10000001"), "police")
    assert header.message_type == "Fault"
    assert text(body, "Code") == "parse"
    assert reason in text(body, "Reason")
    assert "root:" not in text(body, "Reason")  # nothing of /etc/passwd
    refusals = rig.hub.log.refusals("police")
    assert len(refusals) == 1 and reason in refusals[0].reason
    assert rig.hub.log.get(header.message_id).source_message_id == query.message_id


def test_an_endless_answer_is_cut_off_at_the_size_limit_and_refused(asker, police, rig):
    police.fault(mode="huge", megabytes=1024, count=1)  # 1 GiB, made as it is sent
    query, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber="10000001"), "police")
    limit = rig.hub.settings.xml_limits.max_bytes
    assert (header.message_type, text(body, "Code")) == ("Fault", "parse")
    assert f"over the limit of {limit} bytes" in text(body, "Reason")
    [refusal] = rig.hub.log.refusals("police")
    assert f"over the limit of {limit} bytes" in refusal.reason and len(refusal.raw) <= 64 * 1024
    # what the simulator made before the worker hung up: past the limit, plus what the sockets buffered
    made = police.app.extensions["rabt_simulator"]["injector"].streamed_bytes
    assert limit < made < limit + 32 * 1024 * 1024


def test_an_answer_trickling_in_is_abandoned_at_the_call_timeout_and_asked_again(asker, police, rig):
    police.fault(mode="trickle", seconds=60, count=1)  # a byte every 0.2 s: no single read times out
    citizen = police.population.citizen(5)
    _, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
    assert header.message_type == "CivilStatusRecord"  # the retry, once the first call ran out of time
    assert text(body, "Citizen/CivilNumber") == citizen.civil_number
    trickled = police.app.extensions["rabt_simulator"]["injector"].streamed_bytes
    assert 0 < trickled <= FAST["call_timeout"] / 0.2 + 2


def test_agency_down_opens_the_circuit_dead_letters_and_replay_answers(asker, police, rig):
    police.fault(mode="down")  # HTTP 503 on every call
    citizen = police.population.citizen(3)
    query, header, body = asker.ask(canonical("CivilStatusQuery", CivilNumber=citizen.civil_number), "police")
    # the last delivery tells the asker, then the query is dead-lettered
    assert header.message_type == "Fault" and text(body, "Recoverable") == "true"
    assert text(body, "Code") in ("circuit-open", "agency-unavailable")
    assert rig.breakers.states() == {"police": "open"}
    queue = rig.hub.routes.queue_for("police")
    with rig.open_transport() as ops:
        [letter] = wait_for(lambda: ops.dead_letters(queue))
        assert letter.message_id == query.message_id and letter.attempts == 3
        assert letter.code in ("circuit-open", "agency-unavailable")
        police.clear()
        time.sleep(1.1)  # the circuit's reset timeout: the next call is a trial
        ops.replay(letter.id)
        # the asker gave up long ago: the answer is queued to it as a late answer
        answer = late_answer(rig.hub.log, query.correlation_id, "CivilStatusRecord")
        assert answer.source_message_id == query.message_id
        assert rig.breakers.states() == {"police": "closed"}
        OutboxRelay(rig.hub.log, ops).drain()
        seen = []
        ops.consume(rig.hub.routes.queue_for("licensing"), lambda d: seen.append(d.message), idle_timeout=1.0)
    records = [asker.read(m.body) for m in seen]
    assert any(h.message_type == "CivilStatusRecord" and h.correlation_id == query.correlation_id
               for h, _ in records)
