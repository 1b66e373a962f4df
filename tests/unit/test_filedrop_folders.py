"""Filing a processed file away: sidecars first, names claimed without replacing anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.filedrop import folders as folders_module
from hub.filedrop.folders import DropFolders, write_new


@pytest.fixture
def folders(tmp_path: Path) -> DropFolders:
    return DropFolders.create(tmp_path, "police")


def processing_file(folders: DropFolders, name: str, text: str = "data\n") -> Path:
    path = folders.processing / name
    path.write_text(text)
    return path


def test_write_new_creates_the_whole_file_and_never_replaces(tmp_path):
    target = str(tmp_path / "a.receipt.json")
    write_new(target, b'{"ok": true}\n')
    with pytest.raises(FileExistsError):
        write_new(target, b"other")
    assert Path(target).read_bytes() == b'{"ok": true}\n'
    assert os.listdir(tmp_path) == ["a.receipt.json"]  # no temporary name left behind


def test_write_new_without_unnamed_files_goes_through_a_temporary_name(tmp_path, monkeypatch):
    real_open = os.open

    def no_tmpfile(path, flags, *args):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(95, "Operation not supported")  # what NFS answers
        return real_open(path, flags, *args)

    monkeypatch.setattr(folders_module.os, "open", no_tmpfile)
    target = str(tmp_path / "b.report.txt")
    write_new(target, b"rejected\n")
    with pytest.raises(FileExistsError):
        write_new(target, b"other")
    assert Path(target).read_bytes() == b"rejected\n" and os.listdir(tmp_path) == ["b.report.txt"]


def test_finish_moves_the_file_after_its_sidecars(folders):
    path = processing_file(folders, "ARR_1.txt")
    done = folders.finish(path, "done", {".receipt.json": b"{}\n"})
    assert done == folders.folder("done") / "ARR_1.txt" and done.read_text() == "data\n"
    assert sorted(os.listdir(folders.folder("done"))) == ["ARR_1.txt", "ARR_1.txt.receipt.json"]
    assert not path.exists()


def test_a_taken_name_moves_on_to_the_next_number_and_keeps_what_was_there(folders):
    done = folders.folder("done")
    (done / "ARR_1.txt").write_text("first\n")
    (done / "ARR_1.txt.receipt.json").write_text("first receipt\n")
    (done / "ARR_1~2.txt.receipt.json").write_text("stale receipt of a crash before the move\n")
    (done / "ARR_1~3.txt").write_text("a file whose receipt was removed\n")
    target = folders.finish(processing_file(folders, "ARR_1.txt", "fourth\n"), "done",
                            {".receipt.json": b"fourth receipt\n"})
    assert target.name == "ARR_1~4.txt" and target.read_text() == "fourth\n"
    assert (done / "ARR_1~4.txt.receipt.json").read_text() == "fourth receipt\n"
    assert (done / "ARR_1~2.txt.receipt.json").read_text().startswith("stale")
    assert not (done / "ARR_1~2.txt").exists() and not (done / "ARR_1~3.txt.receipt.json").exists()
    assert (done / "ARR_1.txt").read_text() == "first\n"


def test_every_sidecar_of_a_rejected_file_is_there_once(folders):
    failed = folders.folder("failed")
    (failed / "ARR_9.txt.report.txt").write_text("earlier report\n")  # the .json half of this name is free
    target = folders.finish(processing_file(folders, "ARR_9.txt"), "failed",
                            {".report.json": b"{}\n", ".report.txt": b"now\n"})
    assert target.name == "ARR_9~2.txt"
    assert sorted(os.listdir(failed)) == ["ARR_9.txt.report.txt", "ARR_9~2.txt", "ARR_9~2.txt.report.json",
                                          "ARR_9~2.txt.report.txt"]


def _claimed(folders: DropFolders, name: str, data: bytes):
    (folders.inbox / name).write_bytes(data)
    return folders.claim(name)


def _inspected(claim, data_limit: int = 1 << 22):
    from hub.adapter import FileDrop
    from hub.filedrop.process import inspect
    from hub.filedrop.report import Outcome

    drop = FileDrop("ARR_*.txt", "Arrival", "licensing", "border", reader=lambda path: iter(()), max_bytes=data_limit)
    outcome = Outcome("police", claim.path.name, "failed")
    return inspect(claim, drop, outcome), outcome


@pytest.mark.parametrize("size", [1, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 5])
def test_a_claimed_file_is_read_whole_with_the_size_its_claim_saw(folders, size):
    import hashlib

    data = bytes(65 + i % 26 for i in range(size))
    claim = _claimed(folders, "ARR_1.txt", data)
    assert claim.size == size
    kept, outcome = _inspected(claim)
    assert (kept, outcome.size, outcome.sha256) == (data, size, hashlib.sha256(data).hexdigest())


def test_a_file_that_grew_after_its_claim_is_read_to_its_end(folders):
    import hashlib

    claim = _claimed(folders, "ARR_2.txt", b"first line\n")
    with open(claim.path, "ab") as handle:  # written to after the claim (a writer that broke the protocol)
        handle.write(b"second line\n")
    kept, outcome = _inspected(claim)
    assert kept == b"first line\nsecond line\n"
    assert outcome.sha256 == hashlib.sha256(kept).hexdigest() and outcome.size == len(kept)
