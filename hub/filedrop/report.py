"""What became of one dropped file, and the receipt or report written next to it.

Accepted files get ``<name>.receipt.json``; rejected files get
``<name>.report.json`` for machines and ``<name>.report.txt`` for the
person at the agency who has to fix the file. Both list every bad line
(up to :data:`MAX_LISTED`) with the reason. A file that could not be
filed under its own name (too long, control characters) is filed under a
generated one, and its report quotes the original, escaped.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

#: bad lines listed one by one in a report; the rest are only counted
MAX_LISTED = 1000
#: characters a report shows escaped: controls, and the bidi controls that could reverse a line
_HIDDEN = re.compile("[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def quoted(name: str) -> str:
    """``name`` safe to print: control and bidi characters and undecodable bytes escaped."""
    if name.isascii() and name.isprintable():  # nearly every name: nothing to escape, tested in C
        return name
    text = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return _HIDDEN.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


@dataclass(frozen=True)
class LineError:
    """One bad record: the line it starts on (0 when the file as a whole is bad) and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class ItemReceipt:
    """One accepted item: the hub message that carries it, and whether it was a repeat."""

    line: int
    source_id: str | None
    source_message_id: str
    message_id: str
    duplicate: bool = False


@dataclass
class Outcome:
    """The result of one file: ``done`` (accepted), ``failed`` (rejected), ``deferred`` or ``quarantined``.

    ``deferred`` means the hub could not store the messages right now (the
    message log was unavailable), or could not open or move the file; it went
    back to the inbox, untouched, and is tried again later. ``quarantined``:
    it kept failing that way and was set aside in ``quarantine/``.
    """

    agency: str
    name: str
    status: str
    message_type: str | None = None
    sha256: str | None = None
    size: int | None = None
    reason: str | None = None
    errors: list[LineError] = field(default_factory=list)
    error_count: int = 0
    items: list[ItemReceipt] = field(default_factory=list)
    path: Path | None = None
    """Where the file ended up (``done/…`` or ``failed/…``)."""
    filed_as: str | None = None
    """The generated name it was filed under, when its own name could not be used."""
    tries: int = 0
    """Attempts that failed to open or move the file (it is quarantined after a few)."""
    finished_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def new(self) -> int:
        return sum(not item.duplicate for item in self.items)

    @property
    def duplicates(self) -> int:
        return sum(item.duplicate for item in self.items)

    def add_error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors.append(LineError(int(line or 0), str(reason)))

    def summary(self) -> str:
        """One line for the console: ``done SIF_… 1 message(s), 0 duplicate(s)``."""
        if self.status == "done":
            return (f"done    {self.agency}/{self.name}: {len(self.items)} item(s), "
                    f"{self.new} new, {self.duplicates} duplicate(s)")
        name = quoted(self.name)
        if self.status == "deferred":
            return f"later   {self.agency}/{name}: {self.reason}"
        first = f"; line {self.errors[0].line}: {self.errors[0].reason}" if self.errors else ""
        return f"{self.status:<7} {self.agency}/{name}: {self.reason}{first}"


def receipt_json(outcome: Outcome) -> bytes:
    """The receipt of an accepted file, laid out as ``_json`` lays out a document (one key per line).

    Written from one template, each value encoded on its own: the generic
    writer's encoder calls (one per key and value, and a new C encoder for
    each number, flag and object) cost ~140 k instructions a wage file, 2% of it.
    """
    items, new = outcome.items, outcome.new
    messages = "[\n  " + ",\n  ".join(map(_item_json, items)) + "\n ]" if items else "[]"
    text = _RECEIPT % (_text(quoted(outcome.name)), _text(outcome.agency), _text(outcome.message_type),
                       _text(outcome.sha256), _number(outcome.size), len(items), new, len(items) - new,
                       _FLAG[bool(items) and new == 0], messages, _text(outcome.finished_at))
    return text.encode("utf-8")


def report_json(outcome: Outcome) -> bytes:
    """The machine-readable rejection report."""
    document = {
        "file": quoted(outcome.name), "agency": outcome.agency,
        "status": "quarantined" if outcome.status == "quarantined" else "rejected", "filed_as": outcome.filed_as,
        "tries": outcome.tries,
        "message_type": outcome.message_type, "sha256": outcome.sha256, "size": outcome.size,
        "reason": outcome.reason, "error_count": outcome.error_count,
        "errors": [asdict(error) for error in outcome.errors],
        "errors_not_listed": max(0, outcome.error_count - len(outcome.errors)),
        "accepted_messages": 0, "processed_at": outcome.finished_at,
    }
    return _json(document)


def report_text(outcome: Outcome) -> bytes:
    """The rejection report a person reads: what was wrong, line by line."""
    result = "QUARANTINED" if outcome.status == "quarantined" else "REJECTED"
    lines = [
        f"File:     {quoted(outcome.name)}",
        f"Agency:   {outcome.agency}",
        f"Result:   {result} - nothing from this file was accepted.",
        f"Reason:   {outcome.reason}",
    ]
    if outcome.filed_as:
        lines.append(f"Filed as: {outcome.filed_as} (its own name cannot be used)")
    if outcome.sha256:
        lines.append(f"SHA-256:  {outcome.sha256}")
    if outcome.size is not None:
        lines.append(f"Size:     {outcome.size} bytes")
    lines.append(f"Checked:  {outcome.finished_at}")
    if outcome.errors:
        lines += ["", f"Problems ({outcome.error_count}):"]
        lines += [f"  line {e.line}: {e.reason}" if e.line else f"  file: {e.reason}" for e in outcome.errors]
        hidden = outcome.error_count - len(outcome.errors)
        if hidden > 0:
            lines.append(f"  ... and {hidden} more")
    lines += ["", "Correct the file and drop it again under the same or a new name."]
    return ("\n".join(lines) + "\n").encode("utf-8")


_RECEIPT_SHA256 = re.compile(rb'^ "sha256": "([0-9a-f]{64})"', re.MULTILINE)
_RECEIPT_FIRST_MESSAGE = re.compile(rb'"message_id": "([^"\\]{1,100})"')


def receipt_head(head: bytes) -> tuple[str, str | None] | None:
    """(SHA-256, first hub message id) from the start of a receipt; None if it is not one.

    Only the start is read: a month's wage file has a receipt of many
    megabytes, and both values are among its first lines.
    """
    sha256 = _RECEIPT_SHA256.search(head)
    if sha256 is None:
        return None
    first = _RECEIPT_FIRST_MESSAGE.search(head)
    return sha256.group(1).decode(), first.group(1).decode("utf-8", "replace") if first else None


#: one encoder for every value: ``json.dumps(..., ensure_ascii=False)`` builds a new one per call
_encode = json.JSONEncoder(ensure_ascii=False).encode


#: the layout ``_json`` gives a receipt document
_RECEIPT = ('{\n "file": %s,\n "agency": %s,\n "status": "accepted",\n "message_type": %s,\n "sha256": %s,\n'
            ' "size": %s,\n "counts": {"items": %d, "new": %d, "duplicates": %d},\n "duplicate": %s,\n'
            ' "messages": %s,\n "processed_at": %s\n}\n')
_ITEM = '{"line": %d, "source_id": %s, "source_message_id": %s, "message_id": %s, "duplicate": %s}'
_FLAG = {False: "false", True: "true"}


def _text(value: str | None) -> str:
    return "null" if value is None else _encode(value)


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _item_json(item: ItemReceipt) -> str:
    return _ITEM % (item.line, _text(item.source_id), _text(item.source_message_id), _text(item.message_id),
                    _FLAG[bool(item.duplicate)])


def _json(document: dict) -> bytes:
    """One top-level key per line and one list entry per line, each value compact.

    Still easy to read and to diff, and every value goes through json's C
    encoder: ``indent=`` falls back to the pure-Python one, which was a
    twentieth of a small file's whole cost.
    """
    def value(item) -> str:
        if isinstance(item, list) and item:
            return "[\n  " + ",\n  ".join(map(_encode, item)) + "\n ]"
        return _encode(item)

    lines = (f" {_encode(key)}: {value(item)}" for key, item in document.items())
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode("utf-8")
