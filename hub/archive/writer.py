"""``rabt audit archive``: stream the log from a base anchor up to the anchor covering a period into one signed ZIP.

An archive continues from a base (:mod:`hub.archive.base`): the covering
anchor of the newest archive the hub wrote before (the log's start for the
first, or when asked for a full archive). It holds every lane's records
after the head the base bound, and the anchors after the base, so each
period's archive is as large as its period, however old the log.

The archive ends at the first anchor taken at or after the end of the
period (taking one now if the period is over and none was): an anchor binds
every lane's head, so the records it binds are a whole, checkable set, and
the records a little after the period that it binds come along. Each lane is
read a page at a time and walked as it is written (the same checks the
reader makes), so a log that does not verify is never archived and memory
stays flat however long the period. The ZIP is written to a temporary file
beside the target and renamed over it only when complete: a crash leaves no
half archive, and running the command again writes the same archive anew.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from lxml import etree

from hub.archive import layout
from hub.archive.base import ArchiveBase, base_anchor_for, from_anchor
from hub.archive.listed_zip import ListedZip
from hub.archive.records import ArchivedAnchor, ArchivedRecord, archive_checks
from hub.errors import AuditChainError, ConfigError, MessageLogError
from hub.messagelog import MessageLog, db
from hub.messagelog.schema import (
    anchors, archives, audit_chain, messages, parse_timestamp, payloads, raw_payload, refused, timestamp,
)
from hub.messagelog.verify import paged, read_snapshot
from hub.messagelog.walk import AnchorWalker, LaneWalker, PurgeCoverage
from hub.pki import cert_pem
from hub.signing import Signer

Progress = Callable[[int, int], None]
_c = audit_chain
_RECORDS = (
    sa.select(*(_c.c[name] for name in layout.RECORD_FIELDS), raw_payload.label("p_raw"),
              payloads.c.envelope.label("p_envelope"), refused.c.raw.label("r_raw"), messages.c.archived_in)
    .select_from(_c.outerjoin(payloads, sa.and_(_c.c.kind == "accepted", payloads.c.message_id == _c.c.message_id))
                 .outerjoin(messages, sa.and_(_c.c.kind == "accepted", messages.c.message_id == _c.c.message_id))
                 .outerjoin(refused, sa.and_(_c.c.kind == "refused", refused.c.refusal_id == _c.c.message_id)))
    .where(_c.c.lane == sa.bindparam("lane"), _c.c.lane_seq > sa.bindparam("after"),
           _c.c.lane_seq <= sa.bindparam("upto"))
    .order_by(_c.c.lane_seq).limit(sa.bindparam("page"))
)
_ANCHORS = (sa.select(anchors).where(anchors.c.anchor_seq > sa.bindparam("after"))
            .order_by(anchors.c.anchor_seq).limit(sa.bindparam("page")))
_FIRST_AFTER = sa.select(sa.func.min(anchors.c.anchor_seq)).where(anchors.c.at >= sa.bindparam("cutoff"))
_NEWEST = sa.select(sa.func.max(anchors.c.anchor_seq))
_PURGES = sa.select(_c).select_from(archives.join(_c, _c.c.seq == archives.c.chain_seq)).order_by(_c.c.seq)


@dataclass(frozen=True)
class ArchiveWritten:
    """What :func:`write_archive` wrote."""

    path: Path
    anchor_seq: int
    anchor_at: str
    records: int
    lanes: int
    payloads: int
    """Messages whose payloads are inside (the others were purged into an earlier archive)."""

    encrypted: bool
    until: str = ""
    anchor_hash: str = ""
    base_anchor: int = 0
    """The anchor the archive continues from (0: the log's start)."""

    manifest_sha256: str = ""


def covering_anchor(log: MessageLog, until: datetime, *, now: datetime | None = None) -> int:
    """The number of the first anchor at or after ``until``, taking one now when the period is over and none is."""
    cutoff = timestamp(until)
    with db.translated("find the anchor covering the period"), log.engine.connect() as conn:
        found = conn.execute(_FIRST_AFTER, {"cutoff": cutoff}).scalar()
    if found is not None:
        return found
    if until > (now or datetime.now(timezone.utc)):
        raise MessageLogError(f"the period up to {cutoff} is not over yet: nothing can cover it")
    log.anchor()  # None when nothing moved since the newest anchor, which then binds all there is
    with db.translated("find the newest anchor"), log.engine.connect() as conn:
        newest = conn.execute(_NEWEST).scalar()
    if newest is None:
        raise MessageLogError("the message log holds no records to archive")
    return newest


def write_archive(log: MessageLog, signer: Signer, until: datetime, out: Path, *,
                  tsa_certificate: x509.Certificate | None = None, encrypt_to: x509.Certificate | None = None,
                  progress: Progress | None = None, now: datetime | None = None,
                  base_anchor: int | None = None) -> ArchiveWritten:
    """Write the archive from ``base_anchor`` up to the anchor covering ``until`` to ``out`` (atomically).

    ``base_anchor`` None continues from the newest archive registered
    (:func:`hub.archive.base.record_written`), 0 starts at the log's start.
    ``now`` is the clock's time (the period must be over), for tests of scheduled archiving.
    """
    anchor_seq = covering_anchor(log, until, now=now)
    out = Path(out)
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with db.translated("read the log for the archive"), read_snapshot(log.engine) as conn:
            base = base_anchor_for(conn, anchor_seq, until) if base_anchor is None else base_anchor
            written = _Writer(conn, anchor_seq, base, progress).write(part, signer, timestamp(until), tsa_certificate)
        if encrypt_to is not None:
            from hub.archive.envelope import encrypt_file

            encrypt_file(part, encrypt_to)
        durable_rename(part, out)
    except OSError as exc:
        raise ConfigError(f"cannot write the archive {out}: {exc.strerror or exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return ArchiveWritten(out, anchor_seq, written.anchor_at, written.records, len(written.bound),
                          written.payloads, encrypt_to is not None, timestamp(until), written.anchor_hash,
                          written.base.anchor_seq, written.manifest_sha256)


def durable_rename(part: Path, out: Path) -> None:
    """Rename ``part`` over ``out`` once both the file and the rename are on disk."""
    with open(part, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(part, out)
    directory = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class _Writer:
    """One archive: the anchors after the base, the purges inside, every lane after it, then the signed manifest."""

    def __init__(self, conn: sa.Connection, anchor_seq: int, base_anchor: int, progress: Progress | None) -> None:
        if base_anchor > anchor_seq:
            raise MessageLogError(f"the period ends at anchor {anchor_seq}, before anchor {base_anchor} an archive "
                                  "already reaches: archive it from the log's start (--from-genesis)")
        self.conn, self.anchor_seq, self.base_anchor, self.progress = conn, anchor_seq, base_anchor, progress
        self.base, self.manifest_sha256 = ArchiveBase(), ""
        self.records = self.payloads = 0
        self.anchor_at = self.anchor_hash = ""
        self.bound: dict[str, tuple[int, str, int]] = {}
        self.coverage, self.met = PurgeCoverage(), set()

    def write(self, part: Path, signer: Signer, until: str, tsa_certificate) -> _Writer:
        at = self.conn.execute(sa.select(anchors.c.at).where(anchors.c.anchor_seq == self.anchor_seq)).scalar_one()
        with ListedZip(part, parse_timestamp(at).timetuple()[:6]) as archive:
            archive.add("mimetype", layout.MIMETYPE, stored=True)
            self._anchors(archive)
            self._purges(archive)
            total = sum(seq - (self.base.head(lane) or (0,))[0] for lane, (seq, _, _) in self.bound.items())
            checks = archive_checks(self.coverage, self.met)
            for lane_id, (seq, hash_, bound_by) in sorted(self.bound.items()):
                start = self.base.head(lane_id)  # a lane made after the base starts at its genesis
                self._lane(archive, LaneWalker(lane_id, (seq, hash_, bound_by), checks, start), seq, total)
            if self.met != self.coverage.records:
                raise AuditChainError("a purge record of the archive's lanes was not found in its lane")
            archive.add(layout.HUB_CERTIFICATE, cert_pem(signer.identity.certificate))
            if tsa_certificate is not None:
                archive.add(layout.TSA_CERTIFICATE, cert_pem(tsa_certificate))
            signed = signer.sign_bytes(self._manifest(archive.listed, until))
            self.manifest_sha256 = hashlib.sha256(signed).hexdigest()
            archive.add(layout.MANIFEST, signed, listed=False)
        return self

    def _anchors(self, archive: ListedZip) -> None:
        walker, purges = AnchorWalker(), PurgeCoverage()
        for row in self.conn.execute(_PURGES):  # every purge of the log, to check the anchors they name
            if (reason := purges.add(row)) is not None:
                raise AuditChainError(f"{reason}; run rabt audit verify")
        with archive.entry(layout.ANCHORS) as write:
            # every anchor from the first is walked (they are few), to know the heads the base bound
            for row in paged(self.conn, _ANCHORS, "anchor_seq"):
                if row.anchor_seq > self.anchor_seq:
                    break
                if (reason := walker.step(row) or purges.check_anchor(walker)) is not None:
                    raise AuditChainError(f"anchor {row.anchor_seq}: {reason}; run rabt audit verify")
                if row.anchor_seq == self.base_anchor:
                    self.base = from_anchor(row, walker.heads())
                elif row.anchor_seq > self.base_anchor:
                    write(ArchivedAnchor(**{name: getattr(row, name) for name in layout.ANCHOR_FIELDS}).line())
                self.anchor_at, self.anchor_hash = row.at, row.hash
        if self.base.anchor_seq != self.base_anchor:
            raise MessageLogError(f"the base anchor {self.base_anchor} is not in the message log")
        self.bound = walker.bound

    def _purges(self, archive: ListedZip) -> None:
        with archive.entry(layout.PURGES) as write:
            for row in self.conn.execute(_PURGES):
                if (self.base.head(row.lane) or (0,))[0] < row.lane_seq <= self.bound.get(row.lane, (0,))[0]:
                    if (reason := self.coverage.add(row)) is not None:
                        raise AuditChainError(reason)
                    write(_record(row).line())

    def _lane(self, archive: ListedZip, walker: LaneWalker, upto: int, total: int) -> None:
        after = walker.count  # the base head: segments are numbered from the archive's first record
        rows = paged(self.conn, _RECORDS, "lane_seq", start=after, lane=walker.lane_id, upto=upto)
        def segment_of(row) -> int:
            return (row.lane_seq - after - 1) // layout.SEGMENT_RECORDS

        for number, segment in itertools.groupby(rows, key=segment_of):
            with archive.entry(layout.segment_name(walker.lane_id, number + 1)) as write:
                for row in segment:
                    record = _record(row)
                    self._not_purged_since(row, record)
                    if (reason := walker.step(record)) is not None:
                        raise AuditChainError(f"{reason}; run rabt audit verify", record_id=walker.failed_at)
                    write(record.line())
                    self._count(record, total)
        if (reason := walker.finish(upto, self.bound[walker.lane_id][1])) is not None:
            raise AuditChainError(f"{reason}; run rabt audit verify", record_id=walker.failed_at)

    def _not_purged_since(self, row, record: ArchivedRecord) -> None:
        """A purge after this period's anchor took payloads it needs: the archive that purge took is this period's."""
        if row.archived_in and record.raw is None and not self.coverage.covers(record.lane, record.lane_seq):
            raise MessageLogError(f"the payloads of message {record.message_id} were purged into archive "
                                  f"{row.archived_in} after anchor {self.anchor_seq}: that archive already holds "
                                  "this period")

    def _count(self, record: ArchivedRecord, total: int) -> None:
        self.records += 1
        self.payloads += record.kind == "accepted" and record.raw is not None
        if self.progress and self.records % 50_000 == 0:
            self.progress(self.records, total)

    def _manifest(self, listed: list[tuple[str, str, int]], until: str) -> etree._Element:
        root = etree.Element(f"{{{layout.NAMESPACE}}}Archive", nsmap={None: layout.NAMESPACE})
        for name, value in (("anchor", self.anchor_seq), ("anchorHash", self.anchor_hash), ("until", until),
                            ("records", self.records), ("lanes", len(self.bound))):
            root.set(name, str(value))
        root.set("baseAnchor", str(self.base.anchor_seq))
        root.text = "\n"
        root.append(self.base.element())
        root[-1].tail = "\n"
        for name, digest, size in listed:
            entry = etree.SubElement(root, f"{{{layout.NAMESPACE}}}Entry", name=name, sha256=digest, size=str(size))
            entry.tail = "\n"
        return root


def _record(row) -> ArchivedRecord:
    values = {name: getattr(row, name) for name in layout.RECORD_FIELDS}
    raw = getattr(row, "p_raw", None) if row.kind == "accepted" else getattr(row, "r_raw", None)
    envelope = getattr(row, "p_envelope", None) if row.kind == "accepted" else None
    return ArchivedRecord(**values, raw=None if raw is None else bytes(raw),
                          envelope=None if envelope is None else bytes(envelope))
