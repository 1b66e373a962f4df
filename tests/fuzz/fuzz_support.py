"""What every fuzzed input must get, checked in one place for the gateway and for file drops.

A refused input gets a SOAP Fault (or a rejection report) that names the
problem, blames the partner (``Client…``; ``Server`` only for the hub's own
failures), is recorded in the message log and counted, and publishes
nothing. An accepted input is stored as received, and what the hub made of it
is exactly what the unmutated original would have given: a mutation the
signature does not cover must not change the meaning.
"""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from hypothesis import event as hypothesis_event
from hypothesis.control import currently_in_test_context
from lxml import etree

from hub.envelope import read_envelope
from hub.filedrop import DropWatcher
from hub.filedrop.names import in_flight
from hub.metrics import REGISTRY
from hub.xmlsafe import parse_xml
from simulators.police.client import police_signer, soap_envelope

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SAMPLES = Path(__file__).parent.parent / "samples"
XML = "text/xml; charset=utf-8"
#: fault codes that say the partner's request was wrong (SOAP 1.1's own, and our refinements)
PARTNER_FAULTS = ("soap:Client", "soap:VersionMismatch", "soap:MustUnderstand")
ONE_WAY = ("NotifyArrival", "NotifyDeparture", "NotifyResidenceRenewal", "ReportVisaIssued")


def event(outcome: str) -> None:
    """Tell hypothesis the outcome, for the spread ``--hypothesis-show-statistics`` prints."""
    if currently_in_test_context():
        hypothesis_event(outcome)


def refused_total(agency: str) -> float:
    """``rabt_messages_refused_total`` summed over every code, for ``agency``."""
    return sum(sample.value for metric in REGISTRY.collect() if metric.name == "rabt_messages_refused"
               for sample in metric.samples
               if sample.name == "rabt_messages_refused_total" and sample.labels.get("agency") == agency)


@dataclass(frozen=True)
class Ledger:
    """What the log and the metrics hold before an input, to compare with after it."""

    refusals: int
    counted: float
    outbox: frozenset[str]

    @classmethod
    def of(cls, hub, agency: str) -> Ledger:
        return cls(hub.log.stats().refused, refused_total(agency),
                   frozenset(m.message_id for m in hub.log.unpublished(100_000)))

    def refused_once(self, hub, agency: str, what: str) -> None:
        after = Ledger.of(hub, agency)
        assert after.refusals == self.refusals + 1, f"refusal of {what} not recorded in the log"
        assert after.counted == self.counted + 1, f"refusal of {what} not counted exactly once"
        assert after.outbox == self.outbox, f"{what} was refused, yet something new waits to be published"

    def accepted(self, hub, agency: str, message_ids: set[str]) -> None:
        after = Ledger.of(hub, agency)
        assert (after.refusals, after.counted) == (self.refusals, self.counted), "an accepted input was refused too"
        assert after.outbox - self.outbox <= message_ids, "something else was published besides the accepted input"


# ------------------------------------------------------------------ the gateway


class PoliceGateway:
    """The real gateway app over ``hub``, posted to as the police would."""

    def __init__(self, hub, pki_dir: Path) -> None:
        from hub.bootstrap import gateway_app

        self.hub = hub
        self.client = gateway_app(hub).test_client()
        self.sign = police_signer(pki_dir)

    def sample(self, operation: str) -> etree._Element:
        """The agency sample for ``operation`` with a fresh MsgId, unsigned."""
        parser = etree.XMLParser(remove_comments=True)
        root = etree.parse(str(SAMPLES / "police" / f"{operation}.xml"), parser).getroot()
        root.find(f"{{{root.nsmap[root.prefix]}}}MsgId").text = f"ROP-FZ-{uuid.uuid4().hex[:16].upper()}"
        return root

    def signed_request(self, operation: str) -> tuple[bytes, etree._Element]:
        """A valid signed request and its payload element."""
        signed = self.sign(self.sample(operation))
        return soap_envelope(signed), signed

    def expected_body(self, operation: str, payload: etree._Element) -> bytes:
        """The canonical body the unmutated ``payload`` gives (C14N), to compare an accepted mutation with."""
        adapter = self.hub.adapters["police"]
        message_type = adapter.inbound_operation(operation).message_type
        verified = self.hub.verifier.verify(copy.deepcopy(payload), expected_signer="police").element
        return etree.tostring(self.hub.mappings.transform("police", message_type, verified), method="c14n")

    def post(self, data: bytes, expected_body: bytes, content_type: str = XML) -> str:
        """Post ``data``; check what it got against the rules above; ``"accepted"`` or the fault code."""
        before = Ledger.of(self.hub, "police")
        reply = self.client.post("/soap/police", data=data, content_type=content_type)
        assert reply.mimetype == "text/xml", (reply.status_code, reply.data[:300])
        body = parse_xml(reply.data).find(f"{{{SOAP}}}Body")
        [answer] = list(body)
        if answer.tag == f"{{{SOAP}}}Fault":
            code, text = answer.findtext("faultcode"), answer.findtext("faultstring") or ""
            assert code.startswith(PARTNER_FAULTS), f"{code} for a partner's input: {text}"
            assert text.strip() and "internal error" not in text, f"{code} names no problem: {text!r}"
            assert reply.status_code >= 400
            before.refused_once(self.hub, "police", f"a request answered {code}")
            event(code)
            return code
        return self._accepted(reply, answer, data, expected_body, before)

    def _accepted(self, reply, answer, data: bytes, expected_body: bytes, before: Ledger) -> str:
        assert reply.status_code == 200 and etree.QName(answer).localname.endswith("Receipt"), reply.data
        hub_id = answer.findtext("{*}HubMessageId")
        stored = self.hub.log.get(hub_id)
        assert stored is not None, f"receipt for {hub_id}, which the log does not hold"
        duplicate = answer.findtext("{*}Duplicate") == "true"
        assert duplicate or stored.raw == data, "the request was not stored as received"
        verified = self.hub.verifier.verify(parse_xml(stored.envelope), expected_signer="hub")
        _, canonical = read_envelope(verified.element)
        assert etree.tostring(canonical, method="c14n") == expected_body, "an unsigned change reached the message"
        before.accepted(self.hub, "police", {hub_id})
        event("accepted")
        return "accepted"


# ------------------------------------------------------------------ file drops


class DropProbe:
    """Drops one file into a fresh drop root (names never collide) and scans it with the real watcher."""

    def __init__(self, hub, adapter, root: Path) -> None:
        self.hub, self.adapter, self.root = hub, adapter, root
        self._numbers = itertools.count(1)

    def drop(self, name: str, data: bytes) -> str:
        """``"done"`` or ``"failed"``, after checking the receipt or report against the rules above."""
        root = self.root / f"scan-{next(self._numbers)}"
        watcher = DropWatcher(root, [self.adapter], self.hub.pipeline)
        agency = self.adapter.name
        (root / agency / "inbox" / name).write_bytes(data)
        before = Ledger.of(self.hub, agency)
        outcomes = watcher.scan_once()
        if in_flight(name):  # still being written, as far as the watcher can tell: left alone, not lost
            assert outcomes == [] and (root / agency / "inbox" / name).read_bytes() == data
            event("waiting")
            return "waiting"
        [outcome] = outcomes
        assert outcome.status in ("done", "failed"), outcome.summary()
        event(outcome.status)
        if outcome.status == "failed":
            return self._rejected(outcome, before)
        receipt = json.loads((outcome.path.parent / (outcome.path.name + ".receipt.json")).read_bytes())
        ids = {item["message_id"] for item in receipt["messages"]}
        assert ids and all(self.hub.log.get(i) is not None for i in ids), receipt
        before.accepted(self.hub, agency, ids)
        return "done"

    def _rejected(self, outcome, before: Ledger) -> str:
        reason = outcome.reason or ""
        assert reason.strip() and "internal error" not in reason, f"rejected without naming the problem: {reason}"
        report = json.loads((outcome.path.parent / (outcome.path.name + ".report.json")).read_bytes())
        assert report["status"] == "rejected" and report["reason"] == reason
        assert all(e["reason"].strip() and "internal error" not in e["reason"] for e in report["errors"]), report
        before.refused_once(self.hub, self.adapter.name, f"file {outcome.name}")
        return "failed"
