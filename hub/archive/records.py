"""A chain record as an archive line, and what each kind of record must find in the archive."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from hub.archive.layout import ANCHOR_FIELDS, RECORD_FIELDS
from hub.messagelog.records import sha256_hex
from hub.messagelog.walk import PURGE_KIND, Check, PurgeCoverage

_TYPES = {"seq": int, "lane_seq": int, "lane": str, "kind": str, "status": str, "at": str, "detail": str,
          "prev_hash": str, "hash": str}
_ANCHOR_TYPES = {"anchor_seq": int, "lanes": int, "records": int, "at": str, "heads": str, "root": str,
                 "prev_hash": str, "hash": str}


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    """One chain record with the bytes it vouches for (an accepted message's payloads, a refusal's head)."""

    seq: int
    lane: str
    lane_seq: int
    kind: str
    message_id: str | None
    status: str
    at: str
    actor: str | None
    detail: str
    raw_sha256: str | None
    envelope_sha256: str | None
    prev_hash: str
    hash: str
    raw: bytes | None = None
    envelope: bytes | None = None

    def line(self) -> bytes:
        """The record as one JSON line (bytes in base64)."""
        values = {name: getattr(self, name) for name in RECORD_FIELDS}
        for name in ("raw", "envelope"):
            if getattr(self, name) is not None:
                values[name] = base64.b64encode(getattr(self, name)).decode("ascii")
        return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> ArchivedRecord:
        """Read a line :meth:`line` wrote; ValueError naming what is wrong with it."""
        values = _object(line, RECORD_FIELDS, _TYPES)
        for name in ("raw", "envelope"):
            if values.get(name) is not None:
                values[name] = _base64(values[name], name)
        unknown = set(values) - set(RECORD_FIELDS) - {"raw", "envelope"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ArchivedAnchor:
    """One anchor as an archive line: the ``anchors`` columns, the token in bytes."""

    anchor_seq: int
    at: str
    lanes: int
    records: int
    heads: str
    root: str
    prev_hash: str
    hash: str
    timestamp_token: bytes | None = None

    def line(self) -> bytes:
        """The anchor as one JSON line (the token in base64)."""
        values = {name: getattr(self, name) for name in ANCHOR_FIELDS}
        if self.timestamp_token is not None:
            values["timestamp_token"] = base64.b64encode(self.timestamp_token).decode("ascii")
        return json.dumps(values, separators=(",", ":")).encode("utf-8") + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> ArchivedAnchor:
        """Read a line :meth:`line` wrote; ValueError naming what is wrong with it."""
        values = _object(line, ANCHOR_FIELDS, _ANCHOR_TYPES)
        if values.get("timestamp_token") is not None:
            values["timestamp_token"] = _base64(values["timestamp_token"], "timestamp_token")
        if set(values) - set(ANCHOR_FIELDS):
            raise ValueError(f"unknown fields {sorted(set(values) - set(ANCHOR_FIELDS))}")
        return cls(**values)


def _object(line: bytes, fields, types) -> dict:
    values = json.loads(line)
    if not isinstance(values, dict):
        raise ValueError("not a JSON object")
    missing = [name for name in fields if name not in values and name != "timestamp_token"]
    if missing:
        raise ValueError(f"missing fields {missing}")
    for name, kind in types.items():
        if not isinstance(values[name], kind) or isinstance(values[name], bool):
            raise ValueError(f"field {name!r} is not a {kind.__name__}")
    return values


def _base64(text, name: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"field {name!r} is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"field {name!r} is not base64: {exc}") from None


def archive_checks(coverage: PurgeCoverage, met: set[str]) -> dict[str, Check]:
    """What each kind of record must carry in an archive; payloads may be absent only where ``coverage`` says.

    ``met`` collects the hashes of the purge records walked, so the caller can
    tell a listed purge that is in no lane.
    """

    def accepted(row: ArchivedRecord) -> str | None:
        who = f"message {row.message_id}"
        if row.raw is None and row.envelope is None:
            if coverage.covers(row.lane, row.lane_seq):
                return None
            return f"the payloads of {who} are missing from the archive and no earlier archive's purge covers them"
        if row.raw is None or sha256_hex(row.raw) != row.raw_sha256:
            return f"the raw payload of {who} does not match the digest in its record"
        if row.envelope is None or sha256_hex(row.envelope) != row.envelope_sha256:
            return f"the signed envelope of {who} does not match the digest in its record"
        return None

    def refused(row: ArchivedRecord) -> str | None:
        if row.raw is None or sha256_hex(row.raw) != row.raw_sha256:
            return f"the raw payload of refused input {row.message_id} does not match the digest in its record"
        return None

    def purge(row: ArchivedRecord) -> str | None:
        if row.hash not in coverage.records:
            return f"the purge of archive {row.message_id} is not among the archive's purges"
        met.add(row.hash)
        return None

    return {"accepted": accepted, "refused": refused, PURGE_KIND: purge}
