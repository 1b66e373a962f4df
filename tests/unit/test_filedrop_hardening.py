"""Drop files that cannot hot-loop or strand: long names, names counted in bytes, unreadable files.

Real folders, pipeline and SQLite message log, with the test adapter of
``test_filedrop_watcher`` (one border arrival per line, ``ARR_*.txt``).
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from test_filedrop_watcher import (  # noqa: F401 - fixtures
    ARRIVALS,
    arrivals,
    db_url,
    drop,
    listing,
    pipeline,
    root,
)

from hub.filedrop import DropWatcher
from hub.filedrop.names import MAX_NAME_BYTES, NAME_LIMIT, filed_name
from hub.filedrop.retries import Retries

LONG_ASCII = "ARR_" + "x" * 240 + ".txt"                   # 248 characters, 248 bytes
LONG_ARABIC = "ARR_0" + "ع" * 119 + ".txt"                  # 128 characters, 247 bytes: sorts before ARR_1


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watcher(root, pipeline, clock) -> DropWatcher:
    return DropWatcher(root, [ARRIVALS], pipeline, retries=Retries(max_tries=3, first_delay=1.0, clock=clock))


def report_of(root, folder: str, name: str) -> dict:
    return json.loads((root / "police" / folder / f"{name}.report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", [LONG_ASCII, LONG_ARABIC])
def test_a_name_too_long_for_the_suffixes_goes_to_failed_under_a_generated_name(root, watcher, pipeline, name):
    assert len(name) < 250 and MAX_NAME_BYTES < len(name.encode()) <= NAME_LIMIT
    drop(root, name, arrivals(1))
    [outcome] = watcher.scan_once()
    safe = filed_name(name)
    assert (outcome.status, outcome.filed_as, outcome.path.name) == ("failed", safe, safe)
    assert safe.startswith("unnamed-") and safe.endswith(".txt") and len(safe.encode()) <= MAX_NAME_BYTES
    assert listing(root, "failed") == sorted([safe, f"{safe}.report.json", f"{safe}.report.txt"])
    assert listing(root, "inbox") == listing(root, "processing") == []
    report = report_of(root, "failed", safe)
    assert report["file"] == name and report["filed_as"] == safe and "bytes in UTF-8" in report["reason"]
    assert name in (root / "police" / "failed" / f"{safe}.report.txt").read_text(encoding="utf-8")
    assert len(pipeline.log.refusals()) == 1


def test_no_hot_loop_a_scan_loop_records_one_refusal(root, watcher, pipeline):
    drop(root, LONG_ASCII, arrivals(1))
    handled = [watcher.scan_once() for _ in range(50)]
    assert sum(map(len, handled)) == 1 and len(pipeline.log.refusals(limit=1000)) == 1


def test_a_long_arabic_name_never_strands_the_batch_it_arrives_with(root, watcher, pipeline):
    drop(root, LONG_ARABIC, arrivals(2))
    drop(root, "ARR_1.txt", arrivals(2, start=10))
    outcomes = {o.name: o for o in watcher.scan_once()}
    assert outcomes["ARR_1.txt"].status == "done" and outcomes[LONG_ARABIC].status == "failed"
    assert "ARR_1.txt.receipt.json" in listing(root, "done")
    assert listing(root, "processing") == listing(root, "inbox") == []
    assert len(pipeline.log.unpublished()) == 2


@pytest.fixture
def unreadable(monkeypatch):
    """Files of mode 000 cannot be opened, as for the unprivileged watcher of production.

    The tests may run as root, whom mode 000 does not stop; the permission
    check a normal user meets is made here, for read-only opens.
    """
    real_open = os.open

    def open_as_a_user(path, flags, *args, **kwargs):
        if not flags & (os.O_WRONLY | os.O_RDWR) and os.stat(path, follow_symlinks=False).st_mode & 0o444 == 0:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_as_a_user)


def test_an_unreadable_file_backs_off_then_is_quarantined_without_holding_up_others(
        root, watcher, pipeline, clock, unreadable):
    (drop(root, "ARR_0.txt", arrivals(1))).chmod(0)
    drop(root, "ARR_1.txt", arrivals(1, start=5))
    first = {o.name: o for o in watcher.scan_once()}
    assert first["ARR_1.txt"].status == "done"
    assert (first["ARR_0.txt"].status, first["ARR_0.txt"].tries) == ("deferred", 1)
    assert "Permission denied" in first["ARR_0.txt"].reason
    assert listing(root, "inbox") == ["ARR_0.txt"] and listing(root, "processing") == []
    assert watcher.scan_once() == []           # backing off: not tried again at once
    clock.now += 1.0
    assert [o.tries for o in watcher.scan_once()] == [2]
    clock.now += 1.5
    assert watcher.scan_once() == []           # the second back-off is twice as long
    clock.now += 0.5
    [last] = watcher.scan_once()
    assert (last.status, last.tries, watcher.retries.quarantined) == ("quarantined", 3, 1)
    assert listing(root, "quarantine") == ["ARR_0.txt", "ARR_0.txt.report.json", "ARR_0.txt.report.txt"]
    assert report_of(root, "quarantine", "ARR_0.txt")["status"] == "quarantined"
    assert listing(root, "inbox") == listing(root, "processing") == []
    assert len(pipeline.log.refusals()) == 1


def test_a_scan_loop_over_an_unreadable_file_writes_a_bounded_number_of_refusals(
        root, watcher, pipeline, clock, unreadable):
    (drop(root, "ARR_0.txt", arrivals(1))).chmod(0)
    tries = []
    for _ in range(200):
        tries += [o.tries for o in watcher.scan_once()]
        clock.now += 0.1
    assert tries == [1, 2, 3] and len(pipeline.log.refusals()) == 1


def test_a_name_accepted_before_with_other_content_is_refused_naming_the_earlier_file(root, watcher, pipeline):
    drop(root, "ARR_1.txt", arrivals(2))
    [first] = watcher.scan_once()
    drop(root, "ARR_1.txt", arrivals(2))                 # the same content again: a repeat, receipted
    [again] = watcher.scan_once()
    assert again.status == "done" and again.duplicates == 2
    drop(root, "ARR_1.txt", arrivals(2, start=7))        # other content under the name already used
    [conflict] = watcher.scan_once()
    assert conflict.status == "failed" and conflict.reason.startswith("conflict: ")
    assert first.items[0].message_id in conflict.reason and first.sha256 in conflict.reason
    assert "ARR_1.txt.report.json" in listing(root, "failed")
    assert len(pipeline.log.unpublished()) == 2 and len(pipeline.log.refusals()) == 1
