"""``rabt audit verify-archive``: check an archive with no database and no network.

In order, naming the first thing that does not fit:

1. the ZIP itself: readable, no name twice, ``mimetype`` first;
2. the manifest's signature (the hub's XML-DSig profile, :mod:`hub.verify`)
   against the certificate given, else the one inside (the report says which);
3. the entries: every one listed, every listed one there, each one's SHA-256;
4. the base the manifest names (:mod:`hub.archive.base`): its anchor makes
   its hash and its lane heads its Merkle root (none: the log's start);
5. the anchors after the base: each follows the one before (the first, the
   base) and makes its Merkle root, the last is the one the manifest names;
   timestamp tokens when a checker is at hand;
6. the purges inside (earlier archives that took payloads);
7. every lane the last anchor binds, record by record from the head the base
   bound (or the lane's genesis), each payload against its record's digests,
   up to exactly the head the anchor bound.

The same walkers as ``rabt audit verify`` (:mod:`hub.messagelog.walk`) do 4 to 6.
"""

from __future__ import annotations

import hashlib
import hmac
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from hub.archive import layout
from hub.archive.base import ArchiveBase, parse_base
from hub.archive.records import ArchivedAnchor, ArchivedRecord, archive_checks
from hub.config import XmlLimits
from hub.errors import AuditChainError, RabtError
from hub.messagelog.walk import AnchorWalker, LaneWalker, PurgeCoverage
from hub.signature_checks import check_signature_value, signed_content
from hub.verify import read_signature
from hub.xmlsafe import parse_xml

#: ``verify_token(token, imprint_sha256, tsa_cert)``, raising on a token that does not fit
TokenCheck = Callable[[bytes, str, x509.Certificate], object]
Progress = Callable[[int, int], None]
_MANIFEST_LIMIT = 64 * 1024 * 1024
#: what zipfile raises on a damaged or unusual entry (a bad CRC, a method it lacks, a password, a bad offset)
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError, ValueError)
_READ = 1 << 20


@dataclass
class ArchiveReport:
    """What a verified archive holds (a failed check raises instead)."""

    anchor_seq: int = 0
    until: str = ""
    records: int = 0
    lanes: int = 0
    anchors: int = 0
    payloads: int = 0
    """Messages whose payloads are inside."""

    purged_before: int = 0
    """Messages whose payloads an earlier archive took (vouched for by a purge record inside)."""

    certificate: x509.Certificate | None = None
    embedded_certificate: bool = False
    """True when the manifest was checked against the certificate inside the archive (not independently trusted)."""

    tokens_checked: int = 0
    tokens_unchecked: int = 0
    tsa_pinned: bool = False
    """True when the tokens were checked against a TSA certificate the caller gave, not the one inside."""

    heads: list = field(default_factory=list)
    """Every lane's head the archive's anchor binds: (lane, seq, hash)."""

    anchor_hash: str = ""
    base: ArchiveBase = field(default_factory=ArchiveBase)
    """The anchor the archive continues from (anchor 0: the log's start)."""

    manifest_sha256: str = ""
    """SHA-256 of the signed manifest: the archive's name in the log's archive register."""


def verify_archive(source: Path | object, certificate: x509.Certificate | None = None, *,
                   check_token: TokenCheck | None = None, progress: Progress | None = None,
                   tsa_certificate: x509.Certificate | None = None) -> ArchiveReport:
    """Check the archive at ``source`` (a path or a seekable binary file); AuditChainError naming the first misfit.

    ``progress(checked, total)`` is called every 50,000 records.
    """
    try:
        archive = zipfile.ZipFile(source)
    except _ZIP_ERRORS as exc:
        raise AuditChainError(f"not a readable ZIP archive (an encrypted one needs --decrypt-key): {exc}") from None
    with archive:
        return _Reading(archive, certificate, check_token, progress, tsa_certificate).run()


class _Reading:
    def __init__(self, archive: zipfile.ZipFile, certificate, check_token, progress,
                 pinned_tsa: x509.Certificate | None = None) -> None:
        self.archive, self.check_token, self.progress = archive, check_token, progress
        self.total = 0
        self.report = ArchiveReport(certificate=certificate, embedded_certificate=certificate is None)
        self.coverage, self.met = PurgeCoverage(), set()
        #: the TSA certificate the caller trusts; None: the one inside the archive (vouched for by the manifest)
        self.pinned_tsa = pinned_tsa

    def run(self) -> ArchiveReport:
        self._zip_form()
        listed = self._manifest()
        self._entries(listed)
        self._purges()
        walker = self._anchors()
        self._lanes(walker)
        return self.report

    def _zip_form(self) -> None:
        names = self.archive.namelist()
        if len(names) != len(set(names)):
            twice = sorted({name for name in names if names.count(name) > 1})[0]
            raise AuditChainError(f"entry {twice} is in the archive twice")
        if not names or names[0] != "mimetype" or self._read("mimetype", 1024) != layout.MIMETYPE:
            raise AuditChainError("not a Rabt evidence archive: the first entry is not its mimetype")

    def _read(self, name: str, limit: int) -> bytes:
        try:
            with self.archive.open(name) as stream:
                data = stream.read(limit + 1)
        except KeyError:
            raise AuditChainError(f"entry {name} is missing from the archive") from None
        except _ZIP_ERRORS as exc:
            raise AuditChainError(f"entry {name} cannot be read: {exc}") from None
        if len(data) > limit:
            raise AuditChainError(f"entry {name} is larger than {limit} bytes")
        return data

    def _manifest(self) -> dict[str, tuple[str, int]]:
        """The entries the signed manifest lists: name → (SHA-256, size)."""
        try:
            signed = self._read(layout.MANIFEST, _MANIFEST_LIMIT)
            self.report.manifest_sha256 = hashlib.sha256(signed).hexdigest()
            document = parse_xml(signed, XmlLimits(max_bytes=_MANIFEST_LIMIT))
            if self.report.certificate is None:
                self.report.certificate = x509.load_pem_x509_certificate(self._read(layout.HUB_CERTIFICATE, 65536))
            parts = read_signature(document, "hub")
            check_signature_value(parts, self.report.certificate.public_key(), "hub")
            manifest = signed_content(document, parts, "hub")
        except (RabtError, ValueError) as exc:
            whose = ("the certificate inside the archive" if self.report.embedded_certificate
                     else "the given certificate")
            raise AuditChainError(f"the manifest's signature does not verify against {whose}: {exc}") from None
        if manifest.tag != f"{{{layout.NAMESPACE}}}Archive":
            raise AuditChainError(f"the manifest is not an archive manifest ({manifest.tag})")
        return self._listed(manifest)

    def _listed(self, manifest) -> dict[str, tuple[str, int]]:
        try:
            self.report.anchor_seq = int(manifest.get("anchor"))
            self.report.anchor_hash, self.report.until = manifest.get("anchorHash"), manifest.get("until")
            self.report.base = parse_base(manifest)
            listed = {entry.get("name"): (entry.get("sha256"), int(entry.get("size")))
                      for entry in manifest.iter(f"{{{layout.NAMESPACE}}}Entry")}
        except (TypeError, ValueError):
            raise AuditChainError("the manifest's attributes are not what an archive writes") from None
        return listed

    def _entries(self, listed: dict[str, tuple[str, int]]) -> None:
        present = [name for name in self.archive.namelist() if name != layout.MANIFEST]
        for name in present:
            if name not in listed:
                raise AuditChainError(f"entry {name} is not in the manifest (added after signing)")
        for name, (digest, size) in listed.items():
            if name not in present:
                raise AuditChainError(f"entry {name} listed in the manifest is missing from the archive")
            if not hmac.compare_digest(self._digest(name), (digest or "").encode()):
                raise AuditChainError(f"entry {name} was altered: its SHA-256 differs from the manifest's")

    def _digest(self, name: str) -> bytes:
        digest = hashlib.sha256()
        try:
            with self.archive.open(name) as stream:
                while chunk := stream.read(_READ):
                    digest.update(chunk)
        except _ZIP_ERRORS as exc:
            raise AuditChainError(f"entry {name} cannot be read: {exc}") from None
        return digest.hexdigest().encode()

    def _lines(self, name: str) -> Iterator[tuple[int, bytes]]:
        try:
            stream = self.archive.open(name)
        except KeyError:
            raise AuditChainError(f"entry {name} is missing from the archive") from None
        with stream:
            yield from enumerate(stream, start=1)

    def _anchors(self) -> AnchorWalker:
        base = self.report.base
        base.check()
        walker = AnchorWalker(None if base.genesis else (base.anchor_seq, base.hash, base.heads))
        tsa = self.pinned_tsa or self._tsa_certificate()
        self.report.tsa_pinned = self.pinned_tsa is not None
        for number, line in self._lines(layout.ANCHORS):
            anchor = _parsed(ArchivedAnchor, line, layout.ANCHORS, number)
            if (reason := walker.step(anchor) or self.coverage.check_anchor(walker)) is not None:
                raise AuditChainError(f"anchor {anchor.anchor_seq}: {reason}")
            self._token(anchor, tsa)
        if (reason := self.coverage.check_all_anchored(walker)) is not None:
            raise AuditChainError(reason)
        if walker.count != self.report.anchor_seq or walker.prev != self.report.anchor_hash:
            raise AuditChainError(f"the anchors end at {walker.count}, not at anchor {self.report.anchor_seq} "
                                  "the manifest names (or its hash differs)")
        self.report.anchors, self.report.heads = walker.count - base.anchor_seq, walker.heads()
        return walker

    def _tsa_certificate(self) -> x509.Certificate | None:
        if layout.TSA_CERTIFICATE not in self.archive.namelist():
            return None
        try:
            return x509.load_pem_x509_certificate(self._read(layout.TSA_CERTIFICATE, 65536))
        except ValueError:
            raise AuditChainError(f"{layout.TSA_CERTIFICATE} is not a PEM certificate") from None

    def _token(self, anchor: ArchivedAnchor, tsa: x509.Certificate | None) -> None:
        if anchor.timestamp_token is None:
            return
        if self.check_token is None or tsa is None:
            self.report.tokens_unchecked += 1
            return
        try:
            self.check_token(anchor.timestamp_token, anchor.hash, tsa)
        except (RabtError, ValueError) as exc:
            raise AuditChainError(f"anchor {anchor.anchor_seq}: its timestamp token does not fit: {exc}") from None
        self.report.tokens_checked += 1

    def _purges(self) -> None:
        for number, line in self._lines(layout.PURGES):
            if (reason := self.coverage.add(_parsed(ArchivedRecord, line, layout.PURGES, number))) is not None:
                raise AuditChainError(reason)

    def _lanes(self, walker: AnchorWalker) -> None:
        segments = _segments(self.archive.namelist())
        for lane_id in segments:
            if lane_id not in walker.bound:
                raise AuditChainError(f"lane {lane_id} is in the archive but anchor {walker.count} binds no such lane")
        checks = archive_checks(self.coverage, self.met)
        base = self.report.base
        self.total = sum(seq - (base.head(lane_id) or (0,))[0] for lane_id, (seq, _, _) in walker.bound.items())
        for lane_id, (seq, hash_, anchor_seq) in sorted(walker.bound.items()):
            lane = LaneWalker(lane_id, (seq, hash_, anchor_seq), checks, base.head(lane_id))
            for name in segments.get(lane_id, []):
                self._walk_segment(lane, name)
            if (reason := lane.finish(seq, hash_)) is not None:
                raise AuditChainError(reason, record_id=lane.failed_at)
        self.report.lanes = len(walker.bound)
        if self.met != self.coverage.records:
            raise AuditChainError(f"{layout.PURGES} lists a purge record that is in none of the archive's lanes")

    def _walk_segment(self, lane: LaneWalker, name: str) -> None:
        for number, line in self._lines(name):
            record = _parsed(ArchivedRecord, line, name, number)
            if record.lane != lane.lane_id:
                raise AuditChainError(f"entry {name} line {number} is a record of lane {record.lane}")
            if (reason := lane.step(record)) is not None:
                raise AuditChainError(reason, record_id=lane.failed_at)
            self.report.records += 1
            if self.progress and self.report.records % 50_000 == 0:
                self.progress(self.report.records, self.total)
            if record.kind == "accepted":
                present = record.raw is not None
                self.report.payloads += present
                self.report.purged_before += not present


def _parsed(kind, line: bytes, name: str, number: int):
    try:
        return kind.from_line(line)
    except (ValueError, TypeError) as exc:
        raise AuditChainError(f"entry {name} line {number} is not what an archive writes: {exc}") from None


def _segments(names: list[str]) -> dict[str, list[str]]:
    """Each lane's segment entries in order; a gap in their numbers is a deleted segment."""
    found: dict[str, list[int]] = {}
    for name in names:
        parsed = layout.parse_segment_name(name)
        if parsed is not None:
            found.setdefault(parsed[0], []).append(parsed[1])
        elif name.startswith("lanes/"):
            raise AuditChainError(f"entry {name} is not a lane segment an archive writes")
    segments = {}
    for lane_id, numbers in found.items():
        numbers.sort()
        if numbers != list(range(1, len(numbers) + 1)):
            missing = next(n for n, m in enumerate(numbers + [0], start=1) if n != m)
            raise AuditChainError(f"segment {layout.segment_name(lane_id, missing)} of lane {lane_id} is missing")
        segments[lane_id] = [layout.segment_name(lane_id, n) for n in numbers]
    return segments
