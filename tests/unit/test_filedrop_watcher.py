"""The generic file-drop watcher, with a small test adapter (one border arrival per line).

Real folders, a real pipeline (mapping, schema, signing) and a real SQLite
message log; only the adapter is made up, so these tests know no agency.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from hub.adapter import Adapter, FileDrop, FileItem
from hub.errors import MessageLogError
from hub.filedrop import DropWatcher, source_message_id
from hub.filedrop.folders import write_atomically
from hub.mapping import Mappings
from hub.messagelog import open_message_log
from hub.pipeline import Pipeline
from hub.signing import Signer, Verifier

FIXTURE_MAPPINGS = Path(__file__).parents[1] / "fixtures" / "mappings"
B = "urn:test:border"
FIELDS = ("Passport", "NameEn", "NameAr", "Nationality", "Born", "At")


def read_arrivals(path: Path):
    """Test reader: ``passport,name en,name ar,nationality,born,at`` per line."""
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if line.startswith("boom"):
                raise RuntimeError("reader bug")
            values = line.rstrip("\n").split(",")
            if len(values) != len(FIELDS):
                yield FileItem(number, error=f"{len(values)} values, expected {len(FIELDS)}")
                continue
            arrival = etree.Element(f"{{{B}}}Arrival", nsmap={"b": B})
            for name, value in zip(FIELDS, values):
                etree.SubElement(arrival, f"{{{B}}}{name}").text = value
            yield FileItem(number, payload=arrival, source_id=values[0])


ARRIVALS = Adapter(name="police", title="test border arrivals", file_drops=(
    FileDrop(pattern="ARR_*.txt", message_type="WorkerArrival", destination="licensing", system="border",
             reader=read_arrivals, max_bytes=1024 * 1024),))


def arrival(i: int, nationality: str = "IND") -> str:
    return f"T{4827000 + i},Worker Number {i},عامل,{nationality},1991-03-14,2026-11-22T03:41:07Z\n"


def arrivals(count: int, start: int = 0) -> str:
    return "".join(arrival(i) for i in range(start, start + count))


def make_pipeline(trust_store, url: str) -> Pipeline:
    return Pipeline(mappings=Mappings(FIXTURE_MAPPINGS), signer=Signer(trust_store.hub),
                    verifier=Verifier(trust_store), log=open_message_log(url),
                    may_send=lambda agency, message_type: (agency, message_type) == ("police", "WorkerArrival"))


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'log.sqlite3'}"


@pytest.fixture
def pipeline(trust_store, db_url):
    pipeline = make_pipeline(trust_store, db_url)
    yield pipeline
    pipeline.log.close()


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "drop"


@pytest.fixture
def watcher(root, pipeline) -> DropWatcher:
    return DropWatcher(root, [ARRIVALS], pipeline)


def drop(root: Path, name: str, text: str | bytes) -> Path:
    inbox = root / "police" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    return write_atomically_and_return(inbox / name, text.encode() if isinstance(text, str) else text)


def write_atomically_and_return(path: Path, data: bytes) -> Path:
    write_atomically(path, data)
    return path


def listing(root: Path, folder: str) -> list[str]:
    return sorted(os.listdir(root / "police" / folder))


def test_good_file_is_accepted_item_by_item_with_a_receipt(root, watcher, pipeline):
    drop(root, "ARR_1.txt", arrivals(3))
    [outcome] = watcher.scan_once()
    assert outcome.status == "done" and [i.line for i in outcome.items] == [1, 2, 3]
    assert listing(root, "done") == ["ARR_1.txt", "ARR_1.txt.receipt.json"]
    assert listing(root, "inbox") == listing(root, "processing") == []
    receipt = json.loads((root / "police/done/ARR_1.txt.receipt.json").read_text())
    assert receipt["counts"] == {"items": 3, "new": 3, "duplicates": 0} and not receipt["duplicate"]
    assert receipt["sha256"] == outcome.sha256
    stored = pipeline.log.get(receipt["messages"][1]["message_id"])
    assert stored.source_message_id == source_message_id(outcome.sha256, "T4827001")
    assert b"T4827001" in stored.raw and b"T4827002" not in stored.raw  # one item, not the whole file
    assert len(pipeline.log.unpublished()) == 3


def test_a_drop_that_reads_from_memory_is_given_the_bytes_hashed_and_the_file_is_not_opened_again(root, pipeline):
    """The watcher hands a file it holds to ``content_reader``; too many items to hold: the file is read again."""
    read: list[tuple[str, str]] = []

    def from_memory(name: str, data: bytes):
        read.append(("memory", name))
        path = root / "copy" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return read_arrivals(path)

    def from_disk(path: Path):
        read.append(("disk", path.parent.name))
        return read_arrivals(path)

    drops = (replace(ARRIVALS.file_drops[0], reader=from_disk, content_reader=from_memory),)
    watcher = DropWatcher(root, [replace(ARRIVALS, file_drops=drops)], pipeline, keep_items=2)
    drop(root, "ARR_1.txt", arrivals(2))
    [outcome] = watcher.scan_once()
    assert outcome.status == "done" and len(outcome.items) == 2 and read == [("memory", "ARR_1.txt")]
    assert (root / "copy" / "ARR_1.txt").read_bytes() == (root / "police/done/ARR_1.txt").read_bytes()
    read.clear()
    drop(root, "ARR_2.txt", arrivals(3, start=10))  # over keep_items: checked, then streamed from disk to store
    [outcome] = watcher.scan_once()
    assert outcome.status == "done" and len(outcome.items) == 3
    assert read == [("memory", "ARR_2.txt"), ("disk", "processing"), ("disk", "processing")]


def test_same_content_again_publishes_nothing_new(root, watcher, pipeline):
    drop(root, "ARR_1.txt", arrivals(2))
    first = watcher.scan_once()[0]
    drop(root, "ARR_1.txt", arrivals(2))
    again = watcher.scan_once()[0]
    assert again.status == "done" and again.duplicates == 2 and again.new == 0
    assert [i.message_id for i in again.items] == [i.message_id for i in first.items]
    assert "ARR_1~2.txt.receipt.json" in listing(root, "done")
    assert json.loads((root / "police/done/ARR_1~2.txt.receipt.json").read_text())["duplicate"] is True
    assert len(pipeline.log.unpublished()) == 2


def test_one_bad_line_rejects_the_whole_file_with_a_line_report(root, watcher, pipeline):
    drop(root, "ARR_2.txt", arrivals(2) + "only,three,values\n" + arrivals(1, 5))
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and outcome.errors[0].line == 3
    assert listing(root, "failed") == ["ARR_2.txt", "ARR_2.txt.report.json", "ARR_2.txt.report.txt"]
    text = (root / "police/failed/ARR_2.txt.report.txt").read_text()
    assert "line 3: 3 values, expected 6" in text and "nothing from this file was accepted" in text
    report = json.loads((root / "police/failed/ARR_2.txt.report.json").read_text())
    assert report["errors"] == [{"line": 3, "reason": "3 values, expected 6"}]
    assert pipeline.log.unpublished() == []
    assert "ARR_2.txt" in pipeline.log.refusals("police")[0].reason


def test_an_item_the_pipeline_refuses_rejects_the_whole_file(root, watcher, pipeline):
    drop(root, "ARR_3.txt", arrivals(2) + arrival(9, nationality="India"))
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and outcome.errors[0].line == 3
    assert outcome.errors[0].reason.startswith("schema:") and "Nationality" in outcome.errors[0].reason
    assert pipeline.log.unpublished() == []


@pytest.mark.parametrize("name, data, words", [
    ("ARR_empty.txt", b"", "file is empty"),
    ("ARR_bin.txt", b"T1,\x00\x01\x02\xff binary", "binary content (NUL byte at offset 3)"),
    ("ARR_utf.txt", b"T4827001,\xff\xfe,x,IND,1991-03-14,2026-11-22T03:41:07Z\n", "could not be read"),
    ("ARR_bug.txt", b"boom\n", "internal error"),
])
def test_unreadable_files_fail_with_a_clear_report_and_never_raise(root, watcher, name, data, words):
    drop(root, name, data)
    [outcome] = watcher.scan_once()
    assert outcome.status == "failed" and words in outcome.reason
    assert words in (root / "police/failed" / f"{name}.report.txt").read_text()


def test_oversize_file_is_refused_without_being_read(root, watcher, monkeypatch):
    inbox = root / "police" / "inbox"
    with open(inbox / "ARR_big.txt", "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB that cost nothing to write
    monkeypatch.setattr("builtins.open", _no_reading(open))
    [outcome] = watcher.scan_once()  # any read of the file's content raises (_no_reading)
    assert outcome.status == "failed" and "209715200 bytes, over the limit of 1048576" in outcome.reason
    assert (root / "police/failed/ARR_big.txt").stat().st_size == 200 * 1024 * 1024


class _Unreadable:
    """A file handle that may be sized (seek) but never read."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()

    def seek(self, *args):
        return self.handle.seek(*args)

    def read(self, *args):
        pytest.fail("the oversize file was read")


def _no_reading(real_open):
    def guarded(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        reading_big = isinstance(file, int) or (str(file).endswith("ARR_big.txt") and "w" not in mode)
        return _Unreadable(handle) if reading_big else handle
    return guarded


def test_names_and_entries_not_accepted_go_to_failed_unread(root, watcher, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text(arrivals(1))
    inbox = root / "police" / "inbox"
    (inbox / "ARR_link.txt").symlink_to(outside)
    (inbox / "ARR_dir.txt").mkdir()
    drop(root, "notes.pdf", "hello")
    drop(root, "ARR_x.txt.tmp", arrivals(1))  # still being written: left alone
    outcomes = {o.name: o for o in watcher.scan_once()}
    assert "symbolic links are refused" in outcomes["ARR_link.txt"].reason
    assert "not a regular file" in outcomes["ARR_dir.txt"].reason
    assert "not accepted here; expected ARR_*.txt" in outcomes["notes.pdf"].reason
    assert listing(root, "inbox") == ["ARR_x.txt.tmp"]
    assert (root / "police/failed/ARR_link.txt").is_symlink() and outside.read_text() == arrivals(1)


def test_done_marker_is_awaited_when_required(root, pipeline):
    watcher = DropWatcher(root, [ARRIVALS], pipeline, require_done_marker=True)
    drop(root, "ARR_m.txt", arrivals(1))
    assert watcher.scan_once() == []
    drop(root, "ARR_m.txt.done", "")
    [outcome] = watcher.scan_once()
    assert outcome.status == "done" and listing(root, "inbox") == []


def test_scans_with_a_limit_go_on_where_the_last_one_stopped(root, watcher):
    for i in range(5):
        drop(root, f"ARR_{i}.txt", arrivals(1, start=i))
    first = watcher.scan_once(limit=2)
    drop(root, "ARR_0a.txt", arrivals(1, start=9))  # sorts early, but comes after the listing
    second = watcher.scan_once(limit=2)
    third = watcher.scan_once(limit=2)
    assert [[o.name for o in scan] for scan in (first, second, third)] == [
        ["ARR_0.txt", "ARR_1.txt"], ["ARR_2.txt", "ARR_3.txt"],
        ["ARR_4.txt", "ARR_0a.txt"]]  # the next listing, once the kept names are used up, sees it
    assert watcher.scan_once() == []
    assert listing(root, "inbox") == []


def test_names_beyond_the_kept_backlog_come_with_the_next_listing(root, watcher, monkeypatch):
    monkeypatch.setattr("hub.filedrop.watcher.BACKLOG", 2)
    for i in range(5):
        drop(root, f"ARR_{i}.txt", arrivals(1, start=i))
    first = watcher.scan_once(limit=3)
    assert [o.name for o in first] == ["ARR_0.txt", "ARR_1.txt", "ARR_2.txt"]  # two listings, two names each
    assert [o.name for o in watcher.scan_once()] == ["ARR_3.txt", "ARR_4.txt"]
    assert watcher.scan_once() == []


def test_a_scan_lists_again_when_another_watcher_took_every_kept_name(root, trust_store, db_url):
    """Two watchers on one inbox: a scan must not come back empty while files wait.

    (It did: a watcher whose kept names had all been taken by the other
    stopped a month's wage run half-way with one core idle.)
    """
    for i in range(3):
        drop(root, f"ARR_{i}.txt", arrivals(1, start=i))
    pipelines = [make_pipeline(trust_store, db_url) for _ in range(2)]
    first, second = (DropWatcher(root, [ARRIVALS], p) for p in pipelines)
    assert [o.name for o in first.scan_once(limit=1)] == ["ARR_0.txt"]  # keeps ARR_1, ARR_2 for later
    assert [o.name for o in second.scan_once()] == ["ARR_1.txt", "ARR_2.txt"]
    drop(root, "ARR_3.txt", arrivals(1, start=3))
    assert [o.name for o in first.scan_once()] == ["ARR_3.txt"]
    for p in pipelines:
        p.log.close()


def test_crash_mid_file_resumes_without_doubling(root, pipeline, trust_store, db_url):
    text = arrivals(6)
    processing = root / "police" / "processing"
    processing.mkdir(parents=True)
    (processing / "ARR_crash.txt").write_text(text)
    # What a watcher that died half-way had already stored: the first three items.
    import hashlib

    from hub.pipeline_types import Inbound
    sha = hashlib.sha256(text.encode()).hexdigest()
    first_ids = {}
    for item in list(read_arrivals(processing / "ARR_crash.txt"))[:3]:
        inbound = Inbound(agency="police", system="border", message_type="WorkerArrival", destination="licensing",
                          raw=etree.tostring(item.payload, encoding="utf-8"),  # what the watcher stores per item
                          source_message_id=source_message_id(sha, item.source_id))
        first_ids[item.line] = pipeline.accept(inbound, item.payload).message_id
    outcome = DropWatcher(root, [ARRIVALS], pipeline).scan_once()[0]
    assert outcome.status == "done" and len(outcome.items) == 6
    assert {i.line: i.message_id for i in outcome.items if i.duplicate} == first_ids
    assert outcome.new == 3 and len(pipeline.log.unpublished()) == 6
    assert listing(root, "processing") == []


def test_a_file_another_watcher_holds_is_not_resumed(root, pipeline):
    from hub.filedrop.folders import DropFolders
    folders = DropFolders.create(root, "police")
    (folders.processing / "ARR_held.txt").write_text(arrivals(1))
    claim = folders.hold("ARR_held.txt")
    assert claim is not None
    assert DropWatcher(root, [ARRIVALS], pipeline).scan_once() == []
    claim.release()
    assert DropWatcher(root, [ARRIVALS], pipeline).scan_once()[0].status == "done"


def test_message_log_outage_puts_the_file_back(root, watcher, pipeline, monkeypatch):
    drop(root, "ARR_later.txt", arrivals(2))

    def unavailable(records):
        raise MessageLogError("database is locked")
    monkeypatch.setattr(pipeline.log, "accept_many", unavailable)
    [outcome] = watcher.scan_once()
    assert outcome.status == "deferred" and listing(root, "inbox") == ["ARR_later.txt"]
    monkeypatch.undo()
    assert watcher.scan_once()[0].status == "done"


def test_big_files_are_streamed_twice_and_stored_in_chunks(root, pipeline):
    watcher = DropWatcher(root, [ARRIVALS], pipeline, keep_items=4)
    drop(root, "ARR_many.txt", arrivals(10))
    drop(root, "ARR_many_bad.txt", arrivals(9) + arrival(99, nationality="India"))
    outcomes = {o.name: o for o in watcher.scan_once()}
    assert outcomes["ARR_many.txt"].status == "done" and outcomes["ARR_many.txt"].new == 10
    assert outcomes["ARR_many_bad.txt"].status == "failed" and outcomes["ARR_many_bad.txt"].errors[0].line == 10
    assert len(pipeline.log.unpublished()) == 10


def test_two_watcher_threads_never_take_the_same_file(root, trust_store, db_url):
    for n in range(24):
        drop(root, f"ARR_{n:02d}.txt", arrivals(2, start=n * 10))
    pipelines = [make_pipeline(trust_store, db_url) for _ in range(2)]
    watchers = [DropWatcher(root, [ARRIVALS], p, batch_files=3) for p in pipelines]
    results: list[list] = [[], []]
    threads = [threading.Thread(target=lambda i=i: results[i].extend(watchers[i].scan_once())) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    names = [o.name for r in results for o in r]
    assert sorted(names) == [f"ARR_{n:02d}.txt" for n in range(24)]
    assert all(o.status == "done" and o.duplicates == 0 for r in results for o in r)
    assert len(pipelines[0].log.unpublished(1000)) == 48
    for p in pipelines:
        p.log.close()


def test_run_stops_when_asked(root, watcher):
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run, args=(stop, 0.05))
    thread.start()
    drop(root, "ARR_run.txt", arrivals(1))
    deadline = time.monotonic() + 10
    while "ARR_run.txt" not in listing(root, "done") and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and "ARR_run.txt" in listing(root, "done")
