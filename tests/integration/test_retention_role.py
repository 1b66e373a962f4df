"""The retention role on SQLite and PostgreSQL: closed periods archived and verified, payloads purged when due.

The role's clock is moved forward (two days, then past keep_days), so the
day the test's messages were written is a closed period; everything else
(the log, the archive, the purge, the offline verifier) is real.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from hub.archive import verify_archive
from hub.archive.base import check_continues
from hub.archive.envelope import decrypt_to
from hub.config_roles import RetentionSettings
from hub.errors import ConfigError
from hub.messagelog import open_message_log
from hub.outage import Outages
from hub.retention import Retention, period_start
# hub_signer and home are fixtures this module's tests take
from tests.integration.test_evidence_archive import fill, home, hub_signer, offline, rabt, scalar  # noqa: F401

TODAY = period_start(datetime.now(timezone.utc), "day")


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def role(log, hub_signer, folder, clock, outages=None, **settings):
    return Retention(log, hub_signer, RetentionSettings(folder=folder, period="day", **settings),
                     outages=outages or Outages(), now=clock)


def test_a_closed_day_is_archived_verified_and_purged_after_keep_days(database_url, tmp_path, hub_signer, pki_dir,
                                                                      home):
    fill(database_url)
    folder, clock, outages = tmp_path / "archives", Clock(TODAY + timedelta(days=2, hours=1)), Outages()
    with open_message_log(database_url, create=False) as log:
        retention = role(log, hub_signer, folder, clock, outages, keep_days=3)
        assert retention.round() == 3600.0 and outages.current() == {}
        # the folder had no archive: only the last closed day (yesterday, empty of new records) and none before
        names = sorted(path.name for path in folder.iterdir())
        day = (TODAY + timedelta(days=1)).strftime("%Y-%m-%d")
        assert names == [f"rabt-archive-{day}.zip", f"rabt-archive-{day}.zip.verified.json"]
        assert scalar(database_url, "SELECT count(*) FROM payloads") == 12  # keep_days not over: nothing purged
        clock.moment += timedelta(days=3)
        retention.round()
        assert scalar(database_url, "SELECT count(*) FROM payloads") == 2  # the two still queued keep theirs
        assert not (folder / f"rabt-archive-{day}.zip.purged").exists()  # so the purge will run again
        log.mark_published(["msg-10", "msg-11"])
        retention.round()
    assert scalar(database_url, "SELECT count(*) FROM payloads") == 0
    assert (folder / f"rabt-archive-{day}.zip.purged").exists()
    names = sorted(path.name for path in folder.glob("*.zip"))
    assert len(names) == 4, names  # the days closed meanwhile, each archived once, oldest first
    verified = rabt(home, database_url, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    checked = offline("audit", "verify-archive", str(folder / names[0]), "--cert", str(pki_dir / "hub.pem"))
    assert checked.returncode == 0 and "archive intact: 24 records" in checked.stdout, checked.stderr


def test_an_encrypted_archive_is_verified_before_encryption_and_purged_on_its_receipt(tmp_path, hub_signer, pki_dir):
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    recipient = pki_dir / "agencies" / "courts"
    folder = tmp_path / "archives"
    with open_message_log(url, create=False) as log:
        role(log, hub_signer, folder, Clock(TODAY + timedelta(days=1, hours=1)),
             encrypt_to=recipient.with_suffix(".pem"), keep_days=0).round()
    [sealed] = folder.glob("*.zip.p7m")
    assert scalar(url, "SELECT count(*) FROM payloads") == 2  # purged at once (keep_days 0) but for the queued two
    assert not (folder / (sealed.name + ".purged")).exists()  # which a later round takes
    opened = tmp_path / "opened.zip"
    with opened.open("wb") as out:
        decrypt_to(sealed, out, recipient.with_suffix(".key").read_bytes(), _cert(recipient))
    assert verify_archive(opened).records == 24


def test_a_swapped_archive_or_a_forged_receipt_purges_nothing_and_shows_as_an_outage(tmp_path, hub_signer, pki_dir):
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    folder, clock, outages = tmp_path / "archives", Clock(TODAY + timedelta(days=1, hours=1)), Outages()
    with open_message_log(url, create=False) as log:
        retention = role(log, hub_signer, folder, clock, outages, keep_days=1)
        retention.round()
        [archive] = folder.glob("*.zip")
        archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
        assert retention.round() == 3600.0  # not due yet: the archive is not read (hashed) each round
        clock.moment += timedelta(days=1)
        assert retention.round() == 300.0
        assert "is not the file that was verified" in outages.current()["archive"]
        receipt = archive.with_name(archive.name + ".verified.json")
        signed = json.loads(receipt.read_text())
        signed["payload"] = signed["payload"][:-4] + "AAAA"
        receipt.write_text(json.dumps(signed))
        retention.round()
        assert "signature does not verify" in outages.current()["archive"]
    assert scalar(url, "SELECT count(*) FROM payloads") == 12


def test_an_empty_log_is_nothing_to_do_and_a_folder_it_cannot_use_is_an_outage_until_fixed(tmp_path, hub_signer):
    outages, stop = Outages(), threading.Event()
    clock = Clock(TODAY + timedelta(days=1, hours=1))
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        assert role(log, hub_signer, tmp_path / "empty", clock, outages).round() == 3600.0
        assert outages.current() == {} and list((tmp_path / "empty").iterdir()) == []
        (tmp_path / "a-file").write_text("not a folder")
        retention = role(log, hub_signer, tmp_path / "a-file", clock, outages)
        thread = threading.Thread(target=retention.run, args=(stop,))
        thread.start()
        for _ in range(100):
            if outages.current():
                break
            stop.wait(0.05)
        assert "a-file" in outages.current()["archive"]
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and outages.current() == {}


def test_after_an_archive_purged_by_hand_the_role_goes_on_from_that_archives_period(tmp_path, home, hub_signer):
    from tests.integration.test_evidence_archive import write

    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    by_hand = write(home, url, tmp_path / "by-hand.zip")
    assert rabt(home, url, "audit", "purge", "--archived", str(by_hand)).exit_code == 0
    fill(url, first=100, count=3)
    folder, clock, outages = tmp_path / "archives", Clock(TODAY + timedelta(hours=1)), Outages()
    with open_message_log(url, create=False) as log:
        retention = role(log, hub_signer, folder, clock, outages, keep_days=0)
        assert retention.due_periods() == []  # yesterday is in by-hand.zip, whose payloads are gone
        assert retention.round() == 3600.0 and outages.current() == {}
        clock.moment += timedelta(days=1)
        assert retention.due_periods() == [TODAY]
        retention.round()
    assert outages.current() == {}
    [archive] = folder.glob("*.zip")
    report = verify_archive(archive)
    # it continues from by-hand.zip: the 3 new messages, the 2 still queued then (and their payloads) stay in by-hand
    assert (report.payloads, report.purged_before) == (3, 0)
    assert report.base.anchor_seq == verify_archive(by_hand).anchor_seq
    check_continues(report, verify_archive(by_hand))


def test_an_archive_of_another_periods_naming_is_not_continued_from_the_year_one(tmp_path, hub_signer):
    folder = tmp_path / "archives"
    folder.mkdir()
    (folder / "rabt-archive-2026-11.zip.verified.json").write_text("{}")  # written while the period was a month
    with open_message_log(f"sqlite:///{tmp_path / 'log.sqlite3'}") as log:
        retention = role(log, hub_signer, folder, Clock(TODAY + timedelta(hours=1)))
        assert retention.due_periods() == [TODAY - timedelta(days=1)]


def test_an_archive_continuing_one_whose_file_is_gone_is_written_with_a_warning_naming_it(tmp_path, hub_signer,
                                                                                          caplog):
    from hub import metrics

    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    fill(url)
    folder, clock = tmp_path / "archives", Clock(TODAY + timedelta(days=1, hours=1))
    missing = lambda: metrics.REGISTRY.get_sample_value("rabt_retention_previous_missing_total")  # noqa: E731
    before = missing()
    with open_message_log(url, create=False) as log, caplog.at_level("WARNING", logger="hub.retention"):
        retention = role(log, hub_signer, folder, clock)
        retention.round()
        fill(url, first=12, count=3)
        clock.moment += timedelta(days=1)
        retention.round()  # continues from the first archive, which is in place: nothing to say
        assert caplog.records == [] and missing() == before
        [first, second] = sorted(folder.glob("*.zip"))
        second.unlink()  # moved away by hand; its receipt stays, so the role goes on after its day
        fill(url, first=15, count=3)
        clock.moment += timedelta(days=1)
        retention.round()
    [warning] = caplog.records
    assert warning.levelname == "WARNING" and second.name in warning.getMessage()
    assert str(folder) in warning.getMessage() and "verify-archive --previous" in warning.getMessage()
    assert missing() == before + 1
    assert len(list(folder.glob("*.zip"))) == 2  # the chain still continues: the next archive is written


@pytest.mark.parametrize("settings", [{"period": "week"}, {"keep_days": -1}, {"interval": 0}])
def test_bad_settings_are_named(settings):
    with pytest.raises(ConfigError, match="retention"):
        RetentionSettings(**settings)


def _cert(path):
    from hub.pki import load_certificate

    return load_certificate(path.with_suffix(".pem"))


@pytest.mark.parametrize("moment, period, start, following, name", [
    ("2026-12-31T23:59:59", "month", "2026-12-01", "2027-01-01", "2026-12"),
    ("2027-02-28T10:00:00", "month", "2027-02-01", "2027-03-01", "2027-02"),
    ("2028-02-29T00:00:00", "day", "2028-02-29", "2028-03-01", "2028-02-29"),
    ("2026-12-31T00:00:01", "day", "2026-12-31", "2027-01-01", "2026-12-31"),
])
def test_periods_are_whole_utc_months_or_days(moment, period, start, following, name):
    from hub.retention import next_start, period_name

    utc = datetime.fromisoformat(moment).replace(tzinfo=timezone.utc)
    first = period_start(utc, period)
    assert (first.date().isoformat(), next_start(first, period).date().isoformat()) == (start, following)
    assert period_name(first, period) == name
