"""Pure decisions of the file-drop watcher: names, links, markers, item ids."""

from __future__ import annotations

import pytest

from hub.adapter import FileDrop
from hub.filedrop.names import (
    MAX_NAME_BYTES,
    NAME_LIMIT,
    Action,
    Entry,
    decide,
    filed_name,
    fits,
    numbered_name,
    source_message_id,
)
from hub.filedrop.report import quoted

SIF = FileDrop(pattern="SIF_*.csv", message_type="SalaryBatch", destination="licensing", system="wps",
               reader=lambda path: iter(()))


@pytest.mark.parametrize("name", [".hidden.csv", "SIF_1.csv.tmp", "SIF_1.csv.part", "SIF_1.csv.done"])
def test_files_still_being_written_are_ignored(name):
    assert decide(Entry(name, "file"), [SIF]).action is Action.IGNORE


def test_matching_file_is_claimed_with_its_drop():
    decision = decide(Entry("SIF_1000001_BMCT_20260301_001.csv", "file"), [SIF])
    assert decision.action is Action.CLAIM and decision.drop is SIF


@pytest.mark.parametrize("entry, words", [
    (Entry("payroll.xlsx", "file"), "not accepted here; expected SIF_*.csv"),
    (Entry("sif_1.CSV", "file"), "not accepted"),  # patterns are case-sensitive
    (Entry("SIF_1.csv", "symlink"), "symbolic links are refused"),
    (Entry("SIF_1.csv", "dir"), "not a regular file (dir)"),
    (Entry("SIF_1.csv", "file", links=2), "hard-linked"),
    (Entry("SIF_\r1.csv", "file"), "control characters"),
])
def test_refused_entries_say_why(entry, words):
    decision = decide(entry, [SIF])
    assert decision.action is Action.REJECT and words in decision.reason


def test_marker_and_busy_name_make_the_watcher_wait():
    entry = Entry("SIF_1.csv", "file")
    assert decide(entry, [SIF], require_marker=True).action is Action.WAIT
    assert decide(entry, [SIF], require_marker=True, marker=True).action is Action.CLAIM
    assert decide(entry, [SIF], busy=True).action is Action.WAIT


def test_item_ids_depend_on_content_and_item_only():
    sha = "ab" * 32
    assert source_message_id(sha, "LC/2024/23/JDG/2024-03-10") == f"{sha[:40]}/LC/2024/23/JDG/2024-03-10"
    assert source_message_id(sha, "x") == source_message_id(sha, "x") != source_message_id("cd" * 32, "x")
    long_id = source_message_id(sha, "y" * 300)
    assert len(long_id) <= 128 and long_id.startswith(sha[:40] + "/sha256:")
    assert " " not in source_message_id(sha, "with space")


def test_numbered_names_keep_the_extension():
    assert numbered_name("SIF_1.csv", 1) == "SIF_1.csv"
    assert numbered_name("SIF_1.csv", 3) == "SIF_1~3.csv"


def test_names_are_limited_in_bytes_not_characters():
    arabic = "SIF_" + "ع" * 110 + ".csv"  # 118 characters, 228 bytes
    decision = decide(Entry(arabic, "file"), [SIF])
    assert decision.action is Action.REJECT and "228 bytes" in decision.reason
    assert fits("SIF_" + "ع" * 100 + ".csv") and not fits(arabic)
    # the longest name that fits, with every suffix the hub adds, stays within the file system's limit
    longest = "SIF_" + "x" * (MAX_NAME_BYTES - 8) + ".csv"
    assert fits(longest) and len(f"..{numbered_name(longest, 99_999)}.receipt.json.4194304.tmp.tmp") <= NAME_LIMIT


@pytest.mark.parametrize("name", ["SIF_" + "x" * 240 + ".csv", "SIF_\x1b[2J.csv", "SIF_\udcff.csv", ".."])
def test_a_name_that_cannot_be_used_is_filed_under_a_generated_one(name):
    safe = filed_name(name)
    assert safe != name and safe.startswith("unnamed-") and fits(safe) and safe == filed_name(name)
    assert decide(Entry(safe, "file"), [FileDrop(pattern="unnamed-*", message_type="X", destination="d",
                                                 system="s", reader=lambda path: iter(()))]).action is Action.CLAIM


def test_a_usable_name_is_filed_as_it_is():
    assert filed_name("SIF_1000001_BMCT_20260301_001.csv") == "SIF_1000001_BMCT_20260301_001.csv"


def test_reports_quote_names_with_controls_and_bidi_overrides_escaped():
    assert quoted("LCB_\u202etxt.xml\x07\udcff") == "LCB_\\u202etxt.xml\\x07\\udcff"
    assert quoted("LCB_محكمة.xml") == "LCB_محكمة.xml"
