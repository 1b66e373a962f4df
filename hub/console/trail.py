"""One message's whole trail: header, raw as received, canonical, signature check, hops."""

from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree

from hub.errors import RabtError
from hub.messagelog import MessageLog
from hub.signing import DS, Verifier
from hub.xmlsafe import parse_xml


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signature_status(verifier: Verifier, envelope: bytes) -> dict:
    """Re-verify the stored envelope against the hub's pinned certificate, now."""
    try:
        verified = verifier.verify(parse_xml(envelope), expected_signer="hub")
    except RabtError as exc:
        return {"valid": False, "signer": None, "error": f"{exc.code}: {exc.reason}"}
    return {"valid": True, "signer": verified.signer, "error": None}


def raw_signed(raw: bytes) -> bool:
    """Whether the agency's payload carried an XML signature of its own."""
    try:
        return next(parse_xml(raw).iter(f"{{{DS}}}Signature"), None) is not None
    except RabtError:
        return False


def names(envelope: bytes) -> list[dict]:
    """Person and title names in the canonical body, with their language (for RTL display)."""
    try:
        root = parse_xml(envelope)
    except RabtError:
        return []
    found = []
    for node in root.iter():
        if not isinstance(node.tag, str) or etree.QName(node).localname not in ("Name", "Title", "FullName"):
            continue
        lang = node.get("{http://www.w3.org/XML/1998/namespace}lang")
        if node.text and node.text.strip():
            found.append({"field": etree.QName(node).localname, "lang": lang, "text": node.text.strip()})
    return found


def message_trail(log: MessageLog, verifier: Verifier, message_id: str) -> dict:
    """Everything the log knows about ``message_id`` (``found: false`` when nothing)."""
    stored = log.get(message_id)
    if stored is None:
        return {"message_id": message_id, "found": False}
    return {
        "message_id": stored.message_id, "found": True, "correlation_id": stored.correlation_id,
        "message_type": stored.message_type, "source_agency": stored.source_agency,
        "source_system": stored.source_system, "source_message_id": stored.source_message_id,
        "destination": stored.destination, "routing_key": stored.routing_key, "status": stored.status,
        "received_at": _iso(stored.received_at), "published_at": _iso(stored.published_at),
        "raw": stored.raw.decode("utf-8", "replace"), "raw_sha256": stored.raw_sha256,
        "raw_signed": raw_signed(stored.raw),
        "canonical": stored.envelope.decode("utf-8", "replace"), "envelope_sha256": stored.envelope_sha256,
        "signature": signature_status(verifier, stored.envelope),
        "names": names(stored.envelope),
        "events": [{"seq": e.seq, "status": e.status, "at": _iso(e.at), "detail": e.detail, "actor": e.actor}
                   for e in log.events(message_id)],
    }
