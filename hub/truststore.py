"""The trust store: the hub's identity plus the pinned certificates of every party.

Partners renew their signing certificates while the hub runs, so the store
follows its files instead of holding what it read at start:

* on use, at most every ``check_interval`` seconds, it compares the trust
  files' names, sizes, modification times and inodes with what it loaded,
  and reloads when anything differs (``rabt pki register`` writes a file
  under a temporary name and renames it, so a reload never sees half a file);
* :meth:`TrustStore.request_reload` (``rabt serve`` calls it on SIGHUP) makes
  the next use reload at once;
* a reload that fails (a file someone broke by hand) keeps the certificates
  already loaded and says so in the log, and is tried again on the next check.

A trust file ``agencies/<party>.pem`` holds the party's current certificate
first; during a cut-over, earlier certificates follow it, each after a line
``Accepted-Until: <ISO time>`` (PEM's explanatory text). Readers that know
only one certificate per file take the first, the current one::

    -----BEGIN CERTIFICATE-----        the current certificate
    …
    -----END CERTIFICATE-----
    Accepted-Until: 2026-07-01T00:00:00Z
    -----BEGIN CERTIFICATE-----        the previous one, accepted until then
    …
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import signal
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from hub.errors import ConfigError, UnknownSignerError
from hub.pki import PkiPaths, load_certificate, load_private_key

__all__ = ["DEFAULT_CHECK_SECONDS", "Pinned", "TrustStore", "read_trust_file", "trust_file_bytes"]

log = logging.getLogger(__name__)

#: how often, at most, a store in use looks at its files for a change
DEFAULT_CHECK_SECONDS = 5.0
_PEM_BLOCK = re.compile(rb"(?P<before>.*?)(?P<pem>-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\s*)",
                        re.DOTALL)
_UNTIL = re.compile(rb"^Accepted-Until:\s*(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Pinned:
    """One certificate pinned for a party; ``accepted_until`` is set for an earlier one being retired."""

    certificate: x509.Certificate
    accepted_until: dt.datetime | None = None

    def accepted_at(self, moment: dt.datetime) -> bool:
        """Whether the party may sign with this certificate at ``moment`` (its own dates are checked apart)."""
        return self.accepted_until is None or moment < self.accepted_until

    @property
    def fingerprint(self) -> bytes:
        return self.certificate.fingerprint(hashes.SHA256())


def read_trust_file(path: Path) -> list[Pinned]:
    """The certificates of one trust file, the current one first (ConfigError when unreadable)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read trust file {path}: {exc}") from exc
    pinned = []
    for block in _PEM_BLOCK.finditer(data):
        until = _UNTIL.search(block["before"])
        try:
            certificate = x509.load_pem_x509_certificate(block["pem"])
        except ValueError as exc:
            raise ConfigError(f"trust file {path}: certificate {len(pinned) + 1} is not valid PEM: {exc}") from exc
        if pinned and until is None:
            raise ConfigError(f"trust file {path}: certificate {len(pinned) + 1} has no Accepted-Until line")
        pinned.append(Pinned(certificate, _moment(until[1].decode("ascii", "replace"), path) if pinned else None))
    if not pinned:
        raise ConfigError(f"trust file {path} holds no PEM certificate")
    return pinned


def trust_file_bytes(pinned: Sequence[Pinned]) -> bytes:
    """The file form of ``pinned`` (current certificate first), as :func:`read_trust_file` reads it."""
    parts = []
    for entry in pinned:
        if entry.accepted_until is not None:
            parts.append(f"Accepted-Until: {_iso(entry.accepted_until)}\n".encode("ascii"))
        parts.append(entry.certificate.public_bytes(serialization.Encoding.PEM))
    return b"".join(parts)


def _moment(text: str, path: Path) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"trust file {path}: Accepted-Until {text!r} is not an ISO date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class _Snapshot:
    """What one load found: party → pinned certificates, and a fingerprint index over them."""

    parties: Mapping[str, tuple[Pinned, ...]]
    by_fingerprint: Mapping[bytes, tuple[str, Pinned]]

    @classmethod
    def of(cls, parties: Mapping[str, Sequence[Pinned]]) -> _Snapshot:
        frozen = {name: tuple(entries) for name, entries in parties.items()}
        index = {entry.fingerprint: (name, entry) for name, entries in frozen.items() for entry in entries}
        return cls(frozen, index)


class TrustStore:
    """The hub's identity plus the pinned certificates of every known party, following the files."""

    def __init__(self, hub, certificates: Mapping[str, x509.Certificate | Sequence[Pinned]], *,
                 source: Path | None = None, check_interval: float = DEFAULT_CHECK_SECONDS) -> None:
        self.hub = hub
        self.source = source
        self.check_interval = check_interval
        self._snapshot = self._snapshot_of(certificates)
        self._stamp = self._files_stamp() if source is not None else None
        self._checked_at = time.monotonic()
        self._reloading = threading.Lock()

    @classmethod
    def load(cls, pki_dir: Path, *, check_interval: float = DEFAULT_CHECK_SECONDS) -> TrustStore:
        """Load the hub key and every ``agencies/*.pem``; later changes to them are picked up on use."""
        paths = PkiPaths(Path(pki_dir))
        if not paths.hub_key.exists():
            raise ConfigError(f"no hub key in {paths.root}; run `rabt pki init` first")
        from hub.signing import Identity  # the signer's type; signing imports this module

        hub = Identity("hub", load_private_key(paths.hub_key), load_certificate(paths.hub_cert))
        store = cls(hub, _read_agencies(paths), source=paths.root, check_interval=check_interval)
        _watch_expiry(store)
        return store

    # -- reading ---------------------------------------------------------------------------------

    def certificate_for(self, party: str) -> x509.Certificate:
        """The current pinned certificate of ``party``; unknown parties are refused."""
        return self._entries(party)[0].certificate

    def certificates_for(self, party: str) -> list[x509.Certificate]:
        """Every certificate ``party`` may sign with now: the current one, then any still in its overlap."""
        entries = self._entries(party)
        if len(entries) == 1 and entries[0].accepted_until is None:  # no cut-over: no date to read the clock for
            return [entries[0].certificate]
        now = dt.datetime.now(dt.timezone.utc)
        return [entry.certificate for entry in entries if entry.accepted_at(now)]

    def party_of(self, certificate: x509.Certificate) -> str:
        """Which registered party this exact certificate belongs to (and may sign with now)."""
        party = self.party_with_fingerprint(certificate.fingerprint(hashes.SHA256()))
        if party is None:
            raise UnknownSignerError(
                f"signed with an unregistered certificate ({certificate.subject.rfc4514_string()})")
        return party

    def party_with_fingerprint(self, fingerprint: bytes) -> str | None:
        """The party with an accepted certificate of this SHA-256 fingerprint (of its DER), if any."""
        found = self._current().by_fingerprint.get(fingerprint)
        if found is None or not found[1].accepted_at(dt.datetime.now(dt.timezone.utc)):
            return None
        return found[0]

    @property
    def parties(self) -> list[str]:
        return sorted(self._current().parties)

    def pinned(self) -> list[tuple[str, Pinned]]:
        """``(party, pinned)`` for every certificate accepted now, parties in name order, current first."""
        now = dt.datetime.now(dt.timezone.utc)
        return [(name, entry) for name, entries in sorted(self._current().parties.items())
                for entry in entries if entry.accepted_at(now)]

    def _entries(self, party: str) -> tuple[Pinned, ...]:
        try:
            return self._current().parties[party]
        except KeyError:
            raise UnknownSignerError(f"signer {party!r} is not in the trust store", agency=party) from None

    # -- following the files ---------------------------------------------------------------------

    def request_reload(self) -> None:
        """Make the next use look at the files at once (safe to call from a signal handler)."""
        self._checked_at = float("-inf")

    def reload_on_sighup(self) -> None:
        """On SIGHUP, look at the trust files at the next use (call from the main thread)."""
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())

    def reload(self) -> bool:
        """Reload now if the files changed; whether anything was reloaded."""
        stamp = self._files_stamp()
        if stamp == self._stamp:
            return False
        try:
            snapshot = self._snapshot_of(_read_agencies(PkiPaths(self.source)))
        except ConfigError as exc:
            log.error("trust store not reloaded, still using the certificates loaded before: %s", exc)
            return False
        self._snapshot, self._stamp = snapshot, stamp
        log.info("trust store reloaded from %s: %s", self.source, ", ".join(self.parties))
        return True

    def _current(self) -> _Snapshot:
        if self.source is not None and time.monotonic() - self._checked_at >= self.check_interval:
            if self._reloading.acquire(blocking=False):  # one thread looks; the others use what is loaded
                try:
                    self._checked_at = time.monotonic()
                    self.reload()
                finally:
                    self._reloading.release()
        return self._snapshot

    def _files_stamp(self) -> tuple:
        folder = PkiPaths(self.source).agencies
        try:
            found = [(p.name, s.st_size, s.st_mtime_ns, s.st_ino) for p in folder.glob("*.pem")
                     for s in [p.stat()]]
        except OSError as exc:  # a file renamed away between glob and stat: look again next time
            return ("unreadable", str(exc))
        return tuple(sorted(found))

    def _snapshot_of(self, certificates: Mapping[str, x509.Certificate | Sequence[Pinned]]) -> _Snapshot:
        parties = {name: [Pinned(value)] if isinstance(value, x509.Certificate) else list(value)
                   for name, value in certificates.items()}
        if self.hub is not None:
            parties.setdefault("hub", [Pinned(self.hub.certificate)])
        return _Snapshot.of(parties)


def _read_agencies(paths: PkiPaths) -> dict[str, list[Pinned]]:
    return {p.stem: read_trust_file(p) for p in sorted(paths.agencies.glob("*.pem"))}


def _watch_expiry(store: TrustStore) -> None:
    from hub import metrics

    metrics.watch_certificates(store)


def expiring(pinned: Iterable[tuple[str, Pinned]], now: dt.datetime | None = None) -> list[dict]:
    """Each pinned certificate's expiry as plain data: party, serial, subject, dates, days left."""
    now = now or dt.datetime.now(dt.timezone.utc)
    rows = []
    for party, entry in pinned:
        certificate = entry.certificate
        not_after = certificate.not_valid_after_utc
        rows.append({"party": party, "serial": format(certificate.serial_number, "x"),
                     "subject": certificate.subject.rfc4514_string(), "not_after": not_after,
                     "days_left": (not_after - now).days, "accepted_until": entry.accepted_until,
                     "current": entry.accepted_until is None})
    return rows
