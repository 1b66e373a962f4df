"""Fault injection rules: when they fire, what they answer, how they are set."""

from __future__ import annotations

import threading
import time

import pytest
from lxml import etree

from simulators.faults import FaultInjector, FaultRule, FaultRuleError, injected_response, rules_from
from simulators.police.app import create_app

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REQUEST = (
    f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
    '<GetMaritalStatus xmlns="urn:om:rop:civilregistry:2019"><CivilNo>10000001</CivilNo></GetMaritalStatus>'
    "</soap:Body></soap:Envelope>"
).encode()


def decisions(injector: FaultInjector, n: int, operation: str | None = "Op") -> list[str | None]:
    return [getattr(injector.choose(operation)[1], "mode", None) for _ in range(n)]


def test_count_rule_fires_for_the_next_n_requests_then_disappears():
    injector = FaultInjector([FaultRule("soap-fault", count=2)])
    assert decisions(injector, 4) == ["soap-fault", "soap-fault", None, None]
    assert injector.rules() == []


def test_rule_without_count_or_probability_always_fires():
    injector = FaultInjector([FaultRule("down")])
    assert decisions(injector, 3) == ["down"] * 3


def test_probability_is_repeatable_with_a_seed():
    runs = [decisions(FaultInjector([FaultRule("malformed", probability=0.3)], seed=11), 200) for _ in range(2)]
    assert runs[0] == runs[1]
    fired = runs[0].count("malformed")
    assert 30 < fired < 90  # about 60 of 200
    assert decisions(FaultInjector([FaultRule("malformed", probability=0)], seed=1), 50) == [None] * 50


def test_reseeding_through_add_restarts_the_sequence():
    injector = FaultInjector()
    injector.add([FaultRule("down", probability=0.5)], seed=3)
    first = decisions(injector, 30)
    injector.clear()
    injector.add([FaultRule("down", probability=0.5)], seed=3)
    assert decisions(injector, 30) == first


def test_operation_filter():
    injector = FaultInjector([FaultRule("http-error", operation="GetCaseStatus")])
    assert injector.choose("ReceiveComplaintReferral") == (0, None)
    assert injector.choose(None) == (0, None)  # an unparseable request names no operation
    assert injector.choose("GetCaseStatus")[1].mode == "http-error"


def test_latencies_add_up_and_the_first_decisive_rule_wins():
    injector = FaultInjector([
        FaultRule("latency", latency_ms=100), FaultRule("soap-fault", count=1),
        FaultRule("latency", latency_ms=50), FaultRule("malformed", count=1),
    ])
    latency, rule = injector.choose("Op")
    assert (latency, rule.mode) == (150, "soap-fault")
    latency, rule = injector.choose("Op")  # the soap-fault was used up; the malformed one is next
    assert (latency, rule.mode) == (150, "malformed")
    assert len(injector.rules()) == 2


def test_clear_wakes_a_request_sleeping_in_a_timeout():
    injector = FaultInjector([FaultRule("timeout", seconds=30)])
    done = threading.Event()
    worker = threading.Thread(target=lambda: (injector.intervene("Op"), done.set()))
    started = time.monotonic()
    worker.start()
    time.sleep(0.1)
    injector.clear()
    assert done.wait(5)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("data, says", [
    ({"mode": "explode"}, "mode must be one of"),
    ({"mode": "latency", "latency_ms": -1}, "latency_ms"),
    ({"mode": "down", "count": 0}, "count must be a positive integer"),
    ({"mode": "down", "probability": 1.5}, "probability"),
    ({"mode": "http-error", "status": 404}, "5xx"),
    ({"mode": "hostile", "payload": "zip-bomb"}, "payload"),
    ({"mode": "down", "how": "slowly"}, "how"),
    ({"mode": "huge", "megabytes": 0}, "megabytes"),
    ({"mode": "soap-fault", "fault_code": "not a code!"}, "fault_code"),
    ({"mode": "down", "colour": "red"}, "unknown fault rule field"),
    ({}, "incomplete"),
    (["not", "objects"], "must be a JSON object"),
    ({"rules": [{"mode": "down"}], "seed": "x"}, "seed must be an integer"),
])
def test_bad_rules_are_refused_with_a_reason(data, says):
    with pytest.raises(FaultRuleError, match=says):
        rules_from(data)


def test_rules_from_accepts_one_rule_a_list_or_rules_with_a_seed():
    assert [r.mode for r in rules_from({"mode": "down"})[0]] == ["down"]
    assert [r.mode for r in rules_from([{"mode": "down"}, {"mode": "malformed"}])[0]] == ["down", "malformed"]
    rules, seed = rules_from({"rules": [{"mode": "latency", "latency_ms": 5}], "seed": 9})
    assert (rules[0].latency_ms, seed) == (5, 9)


def test_injected_responses_look_like_what_they_imitate():
    fault = injected_response(FaultRule("soap-fault", fault_code="Server.Busy", fault_text="busy"))
    assert fault.status_code == 500
    body = etree.fromstring(fault.get_data())
    assert body.findtext(f".//{{{SOAP_ENV}}}Fault/faultcode") == "soap:Server.Busy"
    assert injected_response(FaultRule("http-error", status=504)).status_code == 504
    down = injected_response(FaultRule("down"))
    assert (down.status_code, down.headers["Retry-After"]) == (503, "30")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(injected_response(FaultRule("malformed")).get_data())
    for payload in ("billion-laughs", "xxe"):
        assert b"<!ENTITY" in injected_response(FaultRule("hostile", payload=payload)).get_data()


# -- through the app: config and the admin endpoint ---------------------------------------


def test_faults_from_app_config_apply_to_soap_calls_but_not_to_the_wsdl():
    app = create_app({"workers": 100, "faults": [{"mode": "http-error", "status": 502}]})
    http = app.test_client()
    assert http.get("/soap/civil-registry?wsdl").status_code == 200
    assert http.get("/soap/civil-registry.xsd").status_code == 200
    assert http.post("/soap/civil-registry", data=REQUEST).status_code == 502


def test_admin_endpoint_adds_lists_and_clears_rules():
    http = create_app({"workers": 100}).test_client()
    assert http.post("/soap/civil-registry", data=REQUEST).status_code == 200
    added = http.post("/_admin/faults", json={"mode": "soap-fault", "count": 1, "operation": "GetMaritalStatus"})
    assert added.status_code == 201
    assert http.get("/_admin/faults").get_json()["rules"][0]["operation"] == "GetMaritalStatus"
    assert http.post("/soap/civil-registry", data=REQUEST).status_code == 500
    assert http.post("/soap/civil-registry", data=REQUEST).status_code == 200
    http.post("/_admin/faults", json=[{"mode": "down"}, {"mode": "malformed"}])
    assert len(http.get("/_admin/faults").get_json()["rules"]) == 2
    assert http.delete("/_admin/faults").get_json() == {"rules": []}
    assert http.post("/soap/civil-registry", data=REQUEST).status_code == 200


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not JSON"),
    (b'{"mode": "teleport"}', "mode must be one of"),
])
def test_admin_endpoint_refuses_bad_rules(body, says):
    http = create_app({"workers": 100}).test_client()
    reply = http.post("/_admin/faults", data=body, content_type="application/json")
    assert reply.status_code == 400
    assert says in reply.get_json()["error"]
    assert http.get("/_admin/faults").get_json() == {"rules": []}


def test_bad_config_rules_fail_at_startup():
    with pytest.raises(FaultRuleError, match="mode"):
        create_app({"faults": [{"mode": "sometimes"}]})
