"""A visa check costs licensing one signature: its signed answer tells the hub, its record gets no receipt.

The hub logs licensing's signed answer with the question in one write, so a
DeliveryReceipt saying the question's record was applied would tell it again
at the price of a second signature per check. Other messages of the same
window are still receipted, and so is an answered question whose record
failed.
"""

from __future__ import annotations

from lxml import etree

from tests.integration.test_licensing_consumer import (  # noqa: F401 - pki and state are fixtures
    NOW, R, RecordingReplies, approved_licence, delivery, message, pki, sample, signed, state,
)

from hub.transports import Delivery
from hub.xmlsafe import parse_xml
from simulators.licensing.consumer import LicensingConsumer
from simulators.licensing.hub_link import plain_seal
from simulators.licensing.receipts import ReceiptSender


class KeptReceipts:
    """Stands in for the receipt sender's transport: keeps what it publishes."""

    def __init__(self) -> None:
        self.published = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def publish(self, messages) -> None:
        self.published += list(messages)


def receipted(kept: KeptReceipts) -> list[tuple[str, str]]:
    """(message id, result) of every outcome in every receipt published."""
    found = []
    for sent in kept.published:
        body = parse_xml(sent.body).find(f"{R}Body/{R}DeliveryReceipt")
        found += [(o.findtext(f"{R}MessageId"), o.findtext(f"{R}Result")) for o in body.iterfind(f"{R}Outcome")]
    return found


def test_an_answered_visa_check_gets_no_receipt_and_an_arrival_still_does(state, pki):  # noqa: F811
    kept = KeptReceipts()
    sender = ReceiptSender(lambda: kept, plain_seal).start()
    state.windows.on_settled = sender.window_committed
    replies = RecordingReplies(state)
    consumer = LicensingConsumer(state, pki.verify, transport=replies, seal=pki.licensing.sign_bytes,
                                 now=lambda: NOW, receipts=sender)
    licence = approved_licence(state)
    header, data = signed(pki.hub, sample("VisaEligibilityQuery", LicenceNumber=licence, ProfessionCode="911101"))
    consumer.handle(Delivery(message(header, data, "amq.rabbitmq.reply-to.test"), "licensing", 1, False))
    arrival, arrival_data = signed(pki.hub, sample("WorkerArrival"))
    consumer.handle(delivery(arrival, arrival_data))
    sender.close()

    assert len(replies.sent) == 1  # the question was answered, signed by licensing
    assert [e["message_type"] for e in state.events()] == ["WorkerArrival", "VisaEligibilityQuery"]  # both recorded
    assert receipted(kept) == [(arrival.message_id, "applied")]


def test_an_answered_question_whose_record_failed_is_still_receipted(pki):  # noqa: F811
    kept = KeptReceipts()
    sender = ReceiptSender(lambda: kept, plain_seal).start()
    told, failed, other = (f"{n}0000000-0000-4000-8000-000000000000" for n in (1, 2, 3))
    for question in (told, failed):
        sender.answered(question)
    sender.window_committed([(told, True), (failed, ValueError("disk full")), (other, True)])
    sender.window_committed([(told, False)])  # redelivered later, not answered again: told as a duplicate
    sender.close()
    assert receipted(kept) == [(failed, "failed"), (other, "applied"), (told, "duplicate")]
    assert all(etree.QName(parse_xml(m.body)).localname == "Envelope" for m in kept.published)
