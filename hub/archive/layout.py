"""What an archive holds, and where (shared by the writer and the reader).

::

    mimetype                           application/vnd.rabt.evidence-archive+zip, first and stored
    anchors.jsonl                      anchors 1..N, one JSON object a line, timestamp tokens in base64
    purges.jsonl                       the purge records inside the archive's lanes (what earlier archives took)
    lanes/<lane id>/<000001>.jsonl     a lane's records in order, SEGMENT_RECORDS a file, payloads inline
    META-INF/hub-certificate.pem       the certificate of the key that signed the manifest
    META-INF/tsa-certificate.pem       the time-stamping authority's certificate, when tokens were given one
    META-INF/manifest.xml              every other entry with its SHA-256 and size, XML-DSig signed by the hub

Payloads travel inline with their records (base64 ``raw`` and ``envelope``
fields) rather than as an entry each: a period of millions of messages then
makes thousands of entries, not millions — Python's zipfile, like most tools,
keeps every entry's directory record in memory — and the manifest stays
small enough to sign and check as one document.
"""

from __future__ import annotations

import re

MIMETYPE = b"application/vnd.rabt.evidence-archive+zip"
NAMESPACE = "urn:rabt:evidence-archive:1"
MANIFEST = "META-INF/manifest.xml"
HUB_CERTIFICATE = "META-INF/hub-certificate.pem"
TSA_CERTIFICATE = "META-INF/tsa-certificate.pem"
ANCHORS = "anchors.jsonl"
PURGES = "purges.jsonl"
#: records per lane segment entry
SEGMENT_RECORDS = 10_000
#: the chain record's columns, as each record line carries them
RECORD_FIELDS = ("seq", "lane", "lane_seq", "kind", "message_id", "status", "at", "actor", "detail",
                 "raw_sha256", "envelope_sha256", "prev_hash", "hash")
#: the anchor's columns, as each anchor line carries them (``timestamp_token`` in base64, or null)
ANCHOR_FIELDS = ("anchor_seq", "at", "lanes", "records", "heads", "root", "prev_hash", "hash", "timestamp_token")

_SEGMENT = re.compile(r"lanes/([0-9A-Za-z_-]{1,64})/([0-9]{6})\.jsonl")


def segment_name(lane_id: str, number: int) -> str:
    """The entry of lane ``lane_id``'s ``number``-th segment (from 1)."""
    return f"lanes/{lane_id}/{number:06d}.jsonl"


def parse_segment_name(name: str) -> tuple[str, int] | None:
    """(lane id, segment number) of a segment entry's name; None for any other name."""
    match = _SEGMENT.fullmatch(name)
    return None if match is None else (match.group(1), int(match.group(2)))
