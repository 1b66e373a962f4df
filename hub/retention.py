"""The retention role: archive each closed period, and purge its payloads once they have been kept long enough.

Each round (``[retention] interval``, an hour by default):

1. every closed period (a month or a day, UTC) after the newest archive in the
   folder is archived, oldest first — or, in a folder with none yet, the last
   closed period only (that first archive holds everything from the log's start, so
   no older period is lost). Each archive continues from the one before it (its
   base is the covering anchor of the newest archive the hub wrote, from the
   ``written_archives`` register), so an archive is as large as its period.
   :func:`hub.archive.write_archive` writes it, it is
   verified as ``rabt audit verify-archive`` would, then encrypted if
   ``encrypt_to`` is set, renamed into place, and a signed receipt of what
   was verified stored beside it (:mod:`hub.archive.receipt`). With a TSA
   configured, a period waits until the anchor covering it is stamped, so
   every archive carries that token;
2. every archive whose period ended ``keep_days`` ago or more and is not yet
   purged has its payloads purged (:func:`hub.messagelog.retention.purge`)
   after its receipt's signature and the file's digest check; a marker file
   beside it then says it is done (messages still queued keep theirs, and
   the purge runs again until none is left).

A round that fails is logged and counted, ``/readyz`` and the console name
it (dependency ``archive``), and it is tried again after a few minutes; the
next successful round clears it. Run the role in one process of the hub: two
would write the same archive twice (harmlessly, by rename) and purge once.
The console watches the outcome from the log alone: :func:`overdue_seconds`
(the ``RabtRetentionOverdue`` alarm), so a role that fails for days, or never
started, is seen from any process.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509

from hub import metrics
from hub.archive import receipt as receipts
from hub.config_roles import RetentionSettings
from hub.errors import RabtError
from hub.messagelog import MessageLog
from hub.messagelog.schema import parse_timestamp
from hub.outage import OUTAGES, Outages
from hub.signing import Signer

log = logging.getLogger(__name__)

ROLE, DEPENDENCY = "retention", "archive"
PREFIX, PURGED = "rabt-archive-", ".purged"
#: seconds before a failed round is tried again (at most the interval)
RETRY = 300.0


def _name_shape(period: str) -> str:
    return "%Y-%m" if period == "month" else "%Y-%m-%d"


def period_name(start: datetime, period: str) -> str:
    return start.strftime(_name_shape(period))


def period_start(moment: datetime, period: str) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day.replace(day=1) if period == "month" else day


def next_start(start: datetime, period: str) -> datetime:
    if period == "day":
        return start + timedelta(days=1)
    return (start + timedelta(days=32)).replace(day=1)


class Retention:
    """Archives closed periods of ``log`` into the settings' folder and purges what is due."""

    def __init__(self, log_: MessageLog, signer: Signer, settings: RetentionSettings, *,
                 tsa_certificate: x509.Certificate | None = None, wait_for_stamps: bool = False,
                 outages: Outages = OUTAGES, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.log, self.signer, self.settings = log_, signer, settings
        self.folder: Path = settings.folder
        self.tsa_certificate, self.wait_for_stamps = tsa_certificate, wait_for_stamps
        self.outages, self.now = outages, now
        self.encrypt_to = settings.encrypt_to and _certificate(settings.encrypt_to)

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop``."""
        try:
            while not stop.is_set():
                stop.wait(self.round())
        finally:
            self.outages.mark_up(ROLE, DEPENDENCY)

    def round(self) -> float:
        """Archive what closed, purge what is due; seconds until the next round."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for start in self.due_periods():
                if not self._archive(start):
                    break
            self._purge_due()
        except (RabtError, OSError) as exc:
            reason = str(exc) if isinstance(exc, RabtError) else \
                f"cannot write {exc.filename or self.folder}: {exc.strerror or exc}"
            log.error("retention round failed: %s", reason)
            metrics.record_retention_failure()
            self.outages.mark_down(ROLE, DEPENDENCY, reason)
            return min(RETRY, self.settings.interval)
        self.outages.mark_up(ROLE, DEPENDENCY)
        return self.settings.interval

    def due_periods(self) -> list[datetime]:
        """Starts of the closed periods not archived yet, oldest first.

        Never a period before the newest purge's anchor (an archive made by hand with ``rabt audit
        purge``, or by this role): its payloads are gone from the log, so it cannot be archived again,
        and that archive holds it.
        """
        period, current = self.settings.period, period_start(self.now(), self.settings.period)
        named = (self._start_of(path) for path in self.folder.glob(f"{PREFIX}*{receipts.SUFFIX}"))
        newest = max((start for start in named if start is not None), default=None)
        purged = _newest_purged_anchor_at(self.log)
        candidates = [start for start in (newest and next_start(newest, period),
                                          purged and period_start(purged, period)) if start is not None]
        if not candidates:
            last = period_start(current - timedelta(days=1), period)
            return [last] if last < current else []
        starts, start = [], max(candidates)
        while start < current:
            starts.append(start)
            start = next_start(start, period)
        return starts

    def _start_of(self, receipt_file: Path) -> datetime | None:
        """The period a receipt's archive is of; None for another period's naming (not ours to continue:
        counting it as the year 1 would archive every period since then)."""
        name = receipt_file.name[len(PREFIX):].split(".zip", 1)[0]
        try:
            return datetime.strptime(name, _name_shape(self.settings.period)).replace(tzinfo=timezone.utc)
        except ValueError:
            return None

    def _archive(self, start: datetime) -> bool:
        """Archive the period from ``start``; False when it must wait (its anchor is not stamped yet)."""
        from hub.archive.writer import covering_anchor

        period = self.settings.period
        end, name = next_start(start, period), period_name(start, period)
        if _empty(self.log):
            return False  # a new hub: nothing to archive yet, and nothing wrong
        anchor_seq = covering_anchor(self.log, end, now=self.now())
        if self.wait_for_stamps and not _stamped(self.log, anchor_seq):
            log.info("retention: archive %s waits for anchor %s's timestamp", name, anchor_seq)
            return False
        target = self.folder / f"{PREFIX}{name}.zip{'.p7m' if self.encrypt_to else ''}"
        report = self._write_verified(end, target)
        self._warn_if_previous_missing(report.base.anchor_seq, target.name)
        receipts.write_receipt(self.signer, target, name, report)
        metrics.record_retention_archive(report.records)
        log.info("retention: archived %s into %s: %d records up to anchor %d, payloads of %d messages",
                 name, target.name, report.records, report.anchor_seq, report.payloads)
        return True

    def _write_verified(self, end: datetime, target: Path):
        """Write the archive to a temporary name, verify it, encrypt it if asked, move it into place."""
        from hub.archive import verify_archive, write_archive
        from hub.archive.base import record_written
        from hub.archive.envelope import encrypt_file
        from hub.archive.writer import durable_rename
        from hub.timestamps import verify_token

        part = target.with_name(f".{target.name}.unverified")
        try:
            written = write_archive(self.log, self.signer, end, part, tsa_certificate=self.tsa_certificate,
                                    now=self.now())
            report = verify_archive(part, self.signer.identity.certificate, check_token=verify_token)
            if self.encrypt_to is not None:
                encrypt_file(part, self.encrypt_to)
            durable_rename(part, target)
        finally:
            part.unlink(missing_ok=True)
        record_written(self.log, dataclasses.replace(written, path=target))  # the next period continues from it
        return report

    def _warn_if_previous_missing(self, base_anchor: int, name: str) -> None:
        """Warn (and count) when the archive this one continues is no longer in the folder under its registered
        name: the chain goes on from the log, but ``verify-archive --previous`` cannot bridge the gap without it."""
        from hub.archive.base import names_ending_at

        previous = [] if base_anchor == 0 else names_ending_at(self.log, base_anchor)
        if previous and not any((self.folder / kept).exists() for kept in previous):
            log.warning("retention: %s continues from %s (anchor %d), which is not in %s: moved or deleted? "
                        "verify-archive --previous needs it to check the chain across the two",
                        name, " or ".join(previous), base_anchor, self.folder)
            metrics.record_retention_previous_missing()

    def _purge_due(self) -> None:
        """Purge every archive whose period ended keep_days ago and is not marked purged."""
        keep = timedelta(days=self.settings.keep_days)
        for path in sorted(self.folder.glob(f"{PREFIX}*{receipts.SUFFIX}")):
            archive = path.with_name(path.name[:-len(receipts.SUFFIX)])
            if archive.with_name(archive.name + PURGED).exists():
                continue
            receipt = receipts.read_receipt(path, self.signer.identity.certificate)
            if parse_timestamp(receipt.until) + keep <= self.now():
                # the file is hashed only when due: every round would otherwise re-read each kept archive
                receipts.check_archive(path, receipt)
                self._purge(archive, receipt)

    def _purge(self, archive: Path, receipt: receipts.Receipt) -> None:
        from hub.messagelog.retention import purge

        result = purge(self.log, archive_id=receipt.manifest_sha256, name=archive.name,
                       anchor_seq=receipt.anchor_seq, anchor_hash=receipt.anchor_hash,
                       heads=[tuple(head) for head in receipt.heads], actor=f"{ROLE} role",
                       after=[tuple(head) for head in receipt.base_heads])
        metrics.record_retention_purge(result.purged)
        log.info("retention: purged the payloads of %d messages archived in %s (%d still queued keep theirs)",
                 result.purged, archive.name, result.kept_queued)
        if result.kept_queued == 0:
            archive.with_name(archive.name + PURGED).write_text(f"{self.now().isoformat()}\n", encoding="utf-8")


def overdue_seconds(log_: MessageLog, settings: RetentionSettings, now: datetime) -> float:
    """Seconds past the round that should have archived the newest closed period; 0 when an archive reaches
    the current period's start (the role's, or one made by hand) or the log is empty.

    That round is one ``interval`` after the period closed: the role archives a period in its first round
    after the period ends.
    """
    closed = period_start(now, settings.period)
    if _archived_up_to(log_, closed) or _empty(log_):  # the register first: the usual answer, and tiny
        return 0.0
    return max(0.0, (now - closed).total_seconds() - settings.interval)


def _archived_up_to(log_: MessageLog, moment: datetime) -> bool:
    import sqlalchemy as sa

    from hub.messagelog import db
    from hub.messagelog.schema import timestamp, written_archives

    # the stored text form (fixed width, UTC) sorts as the times do
    query = sa.select(written_archives.c.archive_id).where(written_archives.c.until >= timestamp(moment)).limit(1)
    with db.translated("look for the newest period's archive"), log_.engine.connect() as conn:
        return conn.execute(query).first() is not None


def _newest_purged_anchor_at(log_: MessageLog) -> datetime | None:
    import sqlalchemy as sa

    from hub.messagelog import db
    from hub.messagelog.schema import anchors, archives

    query = (sa.select(sa.func.max(anchors.c.at))
             .select_from(archives.join(anchors, anchors.c.anchor_seq == archives.c.anchor_seq)))
    with db.translated("find the newest purge's anchor"), log_.engine.connect() as conn:
        return parse_timestamp(conn.execute(query).scalar())


def _empty(log_: MessageLog) -> bool:
    import sqlalchemy as sa

    from hub.messagelog import db
    from hub.messagelog.schema import audit_chain

    with db.translated("look for records to archive"), log_.engine.connect() as conn:
        return conn.execute(sa.select(audit_chain.c.seq).limit(1)).first() is None


def _stamped(log_: MessageLog, anchor_seq: int) -> bool:
    import sqlalchemy as sa

    from hub.messagelog import db
    from hub.messagelog.schema import anchors

    query = sa.select(anchors.c.timestamp_token.is_not(None)).where(anchors.c.anchor_seq == anchor_seq)
    with db.translated("read the covering anchor's timestamp"), log_.engine.connect() as conn:
        return bool(conn.execute(query).scalar())


def _certificate(path: Path) -> x509.Certificate:
    from hub.pki import load_certificate

    return load_certificate(path)
