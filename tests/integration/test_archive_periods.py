"""Archives per period that continue from a base (SQLite and PostgreSQL): each holds only its period,
verifies alone in a process with no database, and ``--previous`` proves the archives make one history."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from hub.archive import layout, verify_archive
from hub.archive.base import check_continues
from hub.errors import AuditChainError
from hub.messagelog import open_message_log
from tests.integration.test_evidence_archive import (  # noqa: F401 (home and hub_signer are fixtures)
    entries, failure, fill, home, hub_signer, offline, rabt, rebuilt, scalar, write,
)
from tests.integration.test_retention_role import TODAY, Clock, role


def message_ids(path: Path) -> set[str]:
    """The message ids of the records in an archive's lanes."""
    found = set()
    for name, data in entries(path).items():
        if name.startswith("lanes/"):
            found |= {json.loads(line)["message_id"] for line in data.splitlines()}
    return found


def verified_offline(path: Path, pki_dir: Path, *previous: Path):
    args = [arg for prev in previous for arg in ("--previous", str(prev))]
    return offline("audit", "verify-archive", str(path), "--cert", str(pki_dir / "hub.pem"), *args)


def test_the_second_period_holds_only_its_own_records_and_continues_the_first(database_url, home, tmp_path, pki_dir):
    fill(database_url)
    first = write(home, database_url, tmp_path / "first.zip")
    fill(database_url, first=20, count=4)  # another writer: a lane made after the first archive's anchor
    second = write(home, database_url, tmp_path / "second.zip")

    one, two = verify_archive(first), verify_archive(second)
    assert one.base.genesis and one.records == 24
    assert (two.base.anchor_seq, two.base.hash) == (one.anchor_seq, one.anchor_hash)
    # 4 messages, 2 published, an event, a refusal: none of the first period's 24
    assert two.records == 8 and two.anchors == 1
    first_ids, second_ids = message_ids(first), message_ids(second)
    assert {f"msg-{n}" for n in range(12)} <= first_ids
    assert {f"msg-{n}" for n in range(20, 24)} <= second_ids and not second_ids & {f"msg-{n}" for n in range(12)}
    new_lanes = {lane for lane, _, _ in two.heads} - {lane for lane, _, _ in two.base.heads}
    assert new_lanes, "the second fill's lane starts from its genesis inside the second archive"

    for path, start in ((first, "the log's start"), (second, f"base anchor {one.anchor_seq}")):
        checked = verified_offline(path, pki_dir)
        assert checked.returncode == 0, checked.stderr
        assert f"starting after {start}" in checked.stdout
    chained = verified_offline(second, pki_dir, first)
    assert chained.returncode == 0, chained.stderr
    assert "continues first.zip exactly; the 2 archives make one history from the log's start" in chained.stdout
    registered = rabt(home, database_url, "audit", "verify")
    assert registered.exit_code == 0, registered.output


def test_previous_names_a_wrong_predecessor(database_url, home, tmp_path, pki_dir):
    fill(database_url)
    first = write(home, database_url, tmp_path / "first.zip")
    fill(database_url, first=20, count=2)
    second = write(home, database_url, tmp_path / "second.zip")
    fill(database_url, first=30, count=2)
    third = write(home, database_url, tmp_path / "third.zip")
    other_url = f"sqlite:///{tmp_path / 'other-hub.sqlite3'}"
    fill(other_url)
    other = write(home, other_url, tmp_path / "other-hub.zip")

    assert verified_offline(third, pki_dir, first, second).returncode == 0
    for previous, why in (((other,), "third.zip does not continue other-hub.zip"),
                          ((first,), "third.zip does not continue first.zip"),  # a gap: second is missing
                          ((second, first), "first.zip does not continue second.zip")):  # out of order
        refused = verified_offline(third, pki_dir, *previous)
        assert refused.returncode == 1 and why in refused.stderr, refused.stderr
        assert "it starts after anchor" in refused.stderr
    # a predecessor whose last anchor differs from the base (same number, another hash) is named too
    two, three = verify_archive(second), verify_archive(third)
    forged = dataclasses.replace(two, anchor_hash="f" * 64)
    with pytest.raises(AuditChainError, match=r"third does not continue second: it starts after anchor \d+ "):
        check_continues(three, forged, "third", "second")
    check_continues(three, two)


def _manifest_with_base(data: bytes, change) -> bytes:
    root = etree.fromstring(data)
    change(root.find(f"{{{layout.NAMESPACE}}}Base"))
    return etree.tostring(root)


def test_a_changed_base_is_refused_by_the_signature_and_a_re_signed_one_by_its_anchor(tmp_path, home, hub_signer):
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    write(home, url, tmp_path / "first.zip")
    fill(url, first=20, count=2)
    second = write(home, url, tmp_path / "second.zip")
    contents = entries(second)
    contents[layout.MANIFEST] = _manifest_with_base(contents[layout.MANIFEST], lambda base: base.set("hash", "0" * 64))
    assert "the manifest's signature does not verify" in failure(rebuilt(contents, tmp_path / "x.zip"))

    # a key holder re-signing a base moved back to the log's start: the anchors then do not start at the first
    contents = entries(second)
    assert failure(rebuilt(contents, tmp_path / "y.zip", hub_signer)).endswith("the anchors jump from 0 to 2")
    # nor can the base's heads be changed and the manifest re-signed: the base anchor's root no longer fits
    head = verify_archive(second).base.heads[0]
    manifest = etree.fromstring(contents[layout.MANIFEST])
    base = manifest.find(f"{{{layout.NAMESPACE}}}Base")
    base.find(f"{{{layout.NAMESPACE}}}Head").set("seq", str(head[1] - 1))
    manifest.remove(manifest[-1])  # the old signature
    contents[layout.MANIFEST] = hub_signer.sign_bytes(manifest)
    assert failure(rebuilt(contents, tmp_path / "z.zip")).endswith("do not make its Merkle root")


def test_an_archive_without_a_base_verifies_from_the_log_start(tmp_path, home, hub_signer):
    """Archives written before bases existed name none: they start at the log's start."""
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    contents = entries(write(home, url, tmp_path / "full.zip"))
    manifest = etree.fromstring(contents[layout.MANIFEST])
    manifest.remove(manifest.find(f"{{{layout.NAMESPACE}}}Base"))
    del manifest.attrib["baseAnchor"]
    manifest.remove(manifest[-1])
    contents[layout.MANIFEST] = hub_signer.sign_bytes(manifest)
    report = verify_archive(rebuilt(contents, tmp_path / "old.zip"))
    assert report.base.genesis and report.records == 24


def test_from_genesis_writes_a_full_archive_after_period_archives(tmp_path, home, pki_dir):
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    first = write(home, url, tmp_path / "first.zip")
    fill(url, first=20, count=4)
    write(home, url, tmp_path / "second.zip")
    full = write(home, url, tmp_path / "full.zip", "--from-genesis")
    report = verify_archive(full)
    assert report.base.genesis and report.records == 32
    assert message_ids(full) >= message_ids(first)


def test_retention_over_three_periods_makes_a_chain_of_archives(database_url, tmp_path, hub_signer, pki_dir, home):
    folder, clock = tmp_path / "archives", Clock(TODAY + timedelta(days=1, hours=1))
    fill(database_url, count=5)
    with open_message_log(database_url, create=False) as log:
        for day in range(3):
            if day:
                fill(database_url, first=100 * day, count=5)
            retention = role(log, hub_signer, folder, clock, keep_days=0)
            assert retention.round() == 3600.0
            clock.moment += timedelta(days=1)
    archives = sorted(folder.glob("*.zip"))
    assert len(archives) == 3, archives
    reports = [verify_archive(path) for path in archives]
    assert reports[0].base.genesis
    for n, (earlier, later) in enumerate(zip(reports, reports[1:]), start=1):
        check_continues(later, earlier)
        ids = message_ids(archives[n])
        assert {f"msg-{100 * n + k}" for k in range(5)} <= ids and not ids & message_ids(archives[n - 1]) - {None}
    chained = verified_offline(archives[2], pki_dir, archives[0], archives[1])
    assert chained.returncode == 0, chained.stderr
    assert "the 3 archives make one history from the log's start" in chained.stdout
    verified = rabt(home, database_url, "audit", "verify")  # every period's payloads purged, the chain whole
    assert verified.exit_code == 0, verified.output
    with zipfile.ZipFile(archives[1]) as second:
        assert second.read(layout.PURGES)  # the first archive's purge record is in the second's period


def test_purging_a_later_archive_first_keeps_the_payloads_only_an_earlier_one_holds(database_url, home, tmp_path):
    fill(database_url)  # 12 messages, the last 2 still queued
    first = write(home, database_url, tmp_path / "first.zip")
    fill(database_url, first=20, count=4)  # 4 more, the last 2 still queued
    second = write(home, database_url, tmp_path / "second.zip")
    log_mark_published(database_url, ["msg-10", "msg-11", "msg-22", "msg-23"])
    purged = rabt(home, database_url, "audit", "purge", "--archived", str(second))
    assert purged.exit_code == 0 and "purged the payloads of 4 messages" in purged.output, purged.output
    assert scalar(database_url, "SELECT count(*) FROM payloads") == 12  # the first period's are in first.zip only
    assert rabt(home, database_url, "audit", "verify").exit_code == 0
    purged = rabt(home, database_url, "audit", "purge", "--archived", str(first))
    assert purged.exit_code == 0 and "purged the payloads of 12 messages" in purged.output, purged.output
    assert scalar(database_url, "SELECT count(*) FROM payloads") == 0
    verified = rabt(home, database_url, "audit", "verify")
    assert verified.exit_code == 0, verified.output


def log_mark_published(url: str, ids: list[str]) -> None:
    with open_message_log(url, create=False) as log:
        log.mark_published(ids)


def test_a_period_written_again_after_later_ones_is_the_same_archive(tmp_path, home):
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    write(home, url, tmp_path / "first.zip")
    fill(url, first=30, count=2)
    until = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert rabt(home, url, "audit", "archive", "--until", until, "--out", str(tmp_path / "second.zip")).exit_code == 0
    fill(url, first=40, count=2)
    write(home, url, tmp_path / "third.zip")
    again = rabt(home, url, "audit", "archive", "--until", until, "--out", str(tmp_path / "again.zip"))
    assert again.exit_code == 0 and "after base anchor 1 up to anchor 2" in again.output, again.output
    assert (tmp_path / "again.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()
    # with nothing new since the newest archive, the next one is empty and still continues it
    empty = write(home, url, tmp_path / "empty.zip")
    report = verify_archive(empty)
    assert (report.records, report.anchors) == (0, 0)
    check_continues(report, verify_archive(tmp_path / "third.zip"))
