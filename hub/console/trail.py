"""One message's whole trail: header, raw as received, canonical, signature check, hops.

The hops are the message log's chain records for the message id: received
(or refused), published by the relay, dead-lettered when the hub moves it off
the broker, each outbound call and its answer or failure, and every operator
action (replayed, discarded) with the operator's name. ``projections`` lists
what each party was sent when access.toml limits its fields: the party, the
fields sent and the fields withheld, read from the ``projected`` records.
"""

from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree

from hub.deadletters import DeadLetterStore
from hub.errors import RabtError
from hub.messagelog import MessageLog
from hub.projection import read_description
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
    if stored.raw is None or stored.envelope is None:
        return _archived_trail(log, stored)
    return {
        **_header(stored),
        "raw": stored.raw.decode("utf-8", "replace"), "raw_sha256": stored.raw_sha256,
        "raw_signed": raw_signed(stored.raw),
        "canonical": stored.envelope.decode("utf-8", "replace"), "envelope_sha256": stored.envelope_sha256,
        "signature": signature_status(verifier, stored.envelope),
        "names": names(stored.envelope),
        "stored": True, "archived_in": None,
        **_hops(log.events(message_id)),
    }


def _header(stored) -> dict:
    return {
        "message_id": stored.message_id, "found": True, "correlation_id": stored.correlation_id,
        "message_type": stored.message_type, "source_agency": stored.source_agency,
        "source_system": stored.source_system, "source_message_id": stored.source_message_id,
        "destination": stored.destination, "routing_key": stored.routing_key, "status": stored.status,
        "received_at": _iso(stored.received_at), "published_at": _iso(stored.published_at),
    }


def _archived_trail(log: MessageLog, stored) -> dict:
    """A message whose payloads a purge moved into an archive: its header, digests and hops, and where the bytes are."""
    where = stored.archived_in or "an archive"
    return {
        **_header(stored), "raw": "", "raw_sha256": stored.raw_sha256, "raw_signed": False,
        "canonical": "", "envelope_sha256": stored.envelope_sha256,
        "signature": {"valid": False, "signer": None, "error": f"archived in {where}"},
        "names": [], "stored": True, "archived_in": where,
        **_hops(log.events(stored.message_id)),
    }


def unstored_ids(log: MessageLog, store: DeadLetterStore, term: str) -> list[str]:
    """Ids matching ``term`` that the log does not store but knows hops of, or holds as dead letters.

    A query the licensing system published itself (licensing → courts) is
    never stored by the hub, yet its delivery, calls, dead letter and replays are.
    """
    term = term.strip()
    ids = [d.message_id for d in store.find(term)] if term else []
    if term and term not in ids and log.events(term):
        ids.append(term)
    return [i for i in dict.fromkeys(ids) if log.get(i) is None]


def unstored_trail(log: MessageLog, store: DeadLetterStore, message_id: str,
                   verifier: Verifier | None = None) -> dict:
    """The trail of a message the log does not store: its hops, and its body from a dead letter if kept."""
    events, letters = log.events(message_id), store.find(message_id)
    if not events and not letters:
        return {"message_id": message_id, "found": False}
    letter = letters[-1] if letters else None
    key = letter.message.routing_key if letter else ""
    destination, message_type, agency = (key.split(".", 2) + ["", "", ""])[:3]
    body = letter.message.body if letter else b""
    return {
        "message_id": message_id, "found": True, "stored": False,
        "correlation_id": letter.message.correlation_id if letter else None,
        "message_type": message_type or None, "source_agency": agency or None, "source_system": None,
        "source_message_id": None, "destination": destination or None, "routing_key": key or None,
        "status": events[-1].status if events else "dead-lettered", "received_at": None, "published_at": None,
        "raw": "", "raw_sha256": "", "raw_signed": False,
        "canonical": body.decode("utf-8", "replace"), "envelope_sha256": "",
        "signature": (signature_status(verifier, body) if verifier and body else
                      {"valid": False, "signer": None, "error": "not stored by the hub"}),
        "names": names(body) if body else [],
        **_hops(events),
    }


def _hops(events) -> dict:
    """The trail's ``events``, and its ``projections``: one per ``projected`` record, oldest first."""
    projections = [read_description(e.detail) for e in events if e.status == "projected"]
    return {"events": [_event(e) for e in events], "projections": [p for p in projections if p is not None]}


def _event(e) -> dict:
    return {"seq": e.seq, "status": e.status, "at": _iso(e.at), "detail": e.detail, "actor": e.actor}
