"""A worker's disclosure report: their ledger entries, signed by the hub, and the look-up itself chained.

    report = DisclosureLedger(log, signer).report("91234567", asked_by="portal", window=Window(limit=100))

The report is a JWS (:mod:`hub.jws`) whose payload is JSON::

    {"format": "rabt-disclosure-ledger/1", "report_id", "issued_at", "issuer", "asked_by",
     "civil_number", "period": {"from", "until"}, "page": {"after", "limit", "next_after"},
     "entries": [...], "consultations": [...]}

``entries`` are :func:`hub.messagelog.ledger.entries`; ``consultations`` the
earlier look-ups of the same person's ledger. Before the report is handed out
its look-up is chained with the report's id and SHA-256 (of the compact JWS), so
every disclosure of the ledger is in the log too; if that record cannot be
written, no report is given.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from hub import jws
from hub.messagelog import MessageLog
from hub.messagelog import ledger as entries_of
from hub.messagelog.ledger import Window
from hub.messagelog.schema import timestamp
from hub.signing import Signer

#: the ``format`` of the report's payload, and the JWS header's ``cty``
FORMAT = "rabt-disclosure-ledger/1"
CONTENT_TYPE = "application/vnd.rabt.disclosure-ledger+json"


@dataclass(frozen=True)
class DisclosureLedger:
    """Signed disclosure reports over one message log, with the hub's signing identity."""

    log: MessageLog
    signer: Signer

    def report(self, civil_number: str, *, asked_by: str, window: Window) -> dict:
        """The signed report (a flattened JWS) of ``civil_number``'s ledger in ``window``, its look-up chained."""
        page = entries_of.entries(self.log.engine, civil_number, window)
        payload = {
            "format": FORMAT, "report_id": str(uuid.uuid4()), "issued_at": timestamp(),
            "issuer": self.signer.identity.certificate.subject.rfc4514_string(), "asked_by": asked_by,
            "civil_number": civil_number,
            "period": {"from": _moment(window.since), "until": _moment(window.until)},
            "page": {"after": window.after, "limit": window.limit, "next_after": page.next_after},
            "entries": page.entries,
            "consultations": entries_of.consultations(self.log.engine, civil_number),
        }
        signed = jws.sign_json(self.signer, payload, CONTENT_TYPE)
        self.log.record_chained(entries_of.consultation_entry(civil_number, asked_by, {
            "report_id": payload["report_id"], "report_sha256": report_digest(signed),
            "entries": len(page.entries), "from": payload["period"]["from"], "until": payload["period"]["until"],
            "after": window.after}))
        return signed


def report_digest(signed: dict) -> str:
    """SHA-256 (hex) of a report's compact JWS: what its look-up record in the chain names."""
    return hashlib.sha256(jws.compact(signed).encode("ascii")).hexdigest()


def _moment(moment) -> str | None:
    return timestamp(moment) if moment else None
