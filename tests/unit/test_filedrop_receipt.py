"""The receipt of an accepted file, written from a template, is byte for byte what the generic JSON writer gives."""

from __future__ import annotations

import json

import pytest

from hub.filedrop.report import ItemReceipt, Outcome, _json, quoted, receipt_head, receipt_json

SHA = "0f" * 32


def outcome(name: str = "SIF_1000072_BNZW_20260227_001.csv", items=(), **fields) -> Outcome:
    result = Outcome("centralbank", name, "done", message_type="SalaryBatch", sha256=SHA, size=1946)
    for key, value in fields.items():
        setattr(result, key, value)
    result.items.extend(items)
    return result


def item(line: int = 2, source_id: str | None = "1000072/2026-02", duplicate: bool = False,
         message_id: str = "0193b6a0-1c2d-7e3f-8a9b-0c1d2e3f4a5b") -> ItemReceipt:
    return ItemReceipt(line, source_id, f"{SHA[:40]}/{source_id or 'item'}", message_id, duplicate)


def receipt_document(outcome: Outcome) -> dict:
    """The receipt as the document the generic writer (``_json``) wrote before the template: the oracle."""
    return {
        "file": quoted(outcome.name), "agency": outcome.agency, "status": "accepted",
        "message_type": outcome.message_type, "sha256": outcome.sha256, "size": outcome.size,
        "counts": {"items": len(outcome.items), "new": outcome.new, "duplicates": outcome.duplicates},
        "duplicate": bool(outcome.items) and outcome.new == 0,
        "messages": [dict(vars(item)) for item in outcome.items],
        "processed_at": outcome.finished_at,
    }


CASES = {
    "one new item": outcome(items=[item()]),
    "a repeat": outcome(items=[item(duplicate=True)]),
    "new and repeated items": outcome(items=[item(2), item(3, "B-7", True, "m-2"), item(9, None)]),
    "no items": outcome(),
    "no source id": outcome(items=[item(source_id=None)]),
    "ids with quotes, backslashes and Arabic": outcome(items=[item(source_id='a"b\\c/ناصر\u202e')]),
    "a name with control and bidi characters": outcome("SIF_\x01\u202e_1.csv", items=[item()]),
    "a name with an undecodable byte": outcome("SIF_\udce9_1.csv", items=[item()]),
    "an Arabic name": outcome("كشف_1.csv", items=[item()]),
    "no message type, digest or size": outcome(items=[item()], message_type=None, sha256=None, size=None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_receipt_is_the_generic_writers_bytes(case):
    accepted = CASES[case]
    written = receipt_json(accepted)
    assert written == _json(receipt_document(accepted))
    assert json.loads(written) == json.loads(json.dumps(receipt_document(accepted)))


def test_receipt_head_still_reads_digest_and_first_message():
    assert receipt_head(receipt_json(CASES["new and repeated items"])) == (SHA, "0193b6a0-1c2d-7e3f-8a9b-0c1d2e3f4a5b")


def test_quoted_escapes_every_ascii_control_character_and_leaves_the_rest():
    for character in map(chr, range(128)):
        expected = character if 0x20 <= ord(character) < 0x7f else character.encode("unicode_escape").decode("ascii")
        assert quoted(f"SIF_{character}.csv") == f"SIF_{expected}.csv"
