"""A reused police ``MsgId`` at the gateway: the same request is a duplicate, other content a conflict.

Runs against the same real gateway (HTTP, both transports) as
``test_gateway_police``, whose fixtures it borrows.
"""

from __future__ import annotations

import requests
from test_gateway_police import (  # noqa: F401 - shared fixtures
    SOAP,
    call,
    gateway,
    new_msg_id,
    police,
    police_sample,
    post,
    signed_request,
)

from hub.xmlsafe import parse_xml


def test_a_departure_reusing_an_arrivals_msg_id_is_a_conflict_naming_the_arrival(gateway, police):
    msg_id = new_msg_id("ARR")
    arrival = call(police, police_sample("NotifyArrival", MsgId=msg_id))
    outbox = gateway.outbox()
    fault = post(gateway.url, signed_request(gateway, police_sample("NotifyDeparture", MsgId=msg_id)))
    assert (fault.status, fault.code, fault.detail_code) == (500, "soap:Client.Conflict", "conflict")
    assert arrival.HubMessageId in fault.text and msg_id in fault.text
    assert gateway.outbox() == outbox  # the departure was not answered as a duplicate and not stored
    assert [m.message_type for m in gateway.hub.log.find(source_agency="police", limit=10_000)
            if m.source_message_id == msg_id] == ["WorkerArrival"]


def receipt_of(gateway, request: bytes) -> tuple[str, str]:
    """(HubMessageId, Duplicate) of the receipt the gateway answers to ``request``."""
    reply = requests.post(gateway.url, data=request, timeout=15, headers={"Content-Type": "text/xml; charset=utf-8"})
    assert reply.status_code == 200, reply.text
    body = parse_xml(reply.content).find(f"{{{SOAP}}}Body")
    return body.findtext(".//{*}HubMessageId"), body.findtext(".//{*}Duplicate")


def test_the_same_request_is_a_duplicate_and_changed_content_a_conflict(gateway, police):
    first = police_sample("NotifyArrival")
    request = signed_request(gateway, first)
    hub_id, duplicate = receipt_of(gateway, request)
    assert duplicate == "false"
    assert receipt_of(gateway, request) == (hub_id, "true")  # a retry of the very same bytes
    outbox = gateway.outbox()
    changed = police_sample("NotifyArrival", MsgId=first.findtext("{*}MsgId"), FlightNo="WY 999")
    fault = post(gateway.url, signed_request(gateway, changed))
    assert fault.code == "soap:Client.Conflict" and "other content" in fault.text and hub_id in fault.text
    assert gateway.outbox() == outbox
