"""The hub's signed note that it verified an archive, kept beside it: what a later purge may rely on.

The retention role verifies each archive it writes before encrypting it;
once encrypted, the hub cannot open it again (only the recipient holds the
key). So the purge that comes ``keep_days`` later relies on this receipt:
a JWS (:mod:`hub.jws`) signed with the hub's key, naming the file's
SHA-256 and what the verification found (the manifest's digest, the anchor
and the lane heads it binds). The purge checks the signature against the
hub's certificate and the file's digest before deleting anything, so an
archive swapped or damaged on disk since, or a receipt written by anyone
else, purges nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from hub.archive.reader import ArchiveReport
from hub.errors import InputError
from hub.jws import sign_json, verify_json
from hub.signing import Signer

SUFFIX = ".verified.json"
CONTENT_TYPE = "application/vnd.rabt.archive-receipt+json"


@dataclass(frozen=True)
class Receipt:
    """A verified archive: its file, digest, period and what its purge needs."""

    file: str
    sha256: str
    period: str
    until: str
    manifest_sha256: str
    anchor_seq: int
    anchor_hash: str
    heads: list
    base_heads: list = field(default_factory=list)
    """Every lane head the archive's base bound (none: it starts at the log's start, as receipts before bases)."""


def receipt_path(archive: Path) -> Path:
    return archive.with_name(archive.name + SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_receipt(signer: Signer, archive: Path, period: str, report: ArchiveReport) -> Receipt:
    """Sign and store (atomically) the receipt of ``archive`` in its final form, verified as ``report``."""
    receipt = Receipt(archive.name, file_sha256(archive), period, report.until, report.manifest_sha256,
                      report.anchor_seq, report.anchor_hash, [list(head) for head in report.heads],
                      [list(head) for head in report.base.heads])
    target = receipt_path(archive)
    part = target.with_name(f".{target.name}.part")
    part.write_text(json.dumps(sign_json(signer, receipt.__dict__, CONTENT_TYPE)), encoding="utf-8")
    os.replace(part, target)
    return receipt


def read_receipt(path: Path, certificate: x509.Certificate) -> Receipt:
    """The receipt at ``path`` once its signature checks; InputError naming what does not.

    Its archive is not read here (it can be gigabytes): :func:`check_archive` before relying on it.
    """
    try:
        signed = json.loads(path.read_text(encoding="utf-8"))
        fields = verify_json(signed, certificate)
        receipt = Receipt(**fields)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"receipt {path.name} is unreadable: {exc}") from None
    except InputError as exc:
        raise InputError(f"receipt {path.name}: {exc}") from None
    archive = path.with_name(receipt.file)
    if archive.name != path.name[:-len(SUFFIX)]:
        raise InputError(f"receipt {path.name} names another file ({receipt.file})")
    return receipt


def check_archive(path: Path, receipt: Receipt) -> None:
    """InputError unless the archive the receipt at ``path`` names is still the file that was verified."""
    archive = path.with_name(receipt.file)
    try:
        digest = file_sha256(archive)
    except OSError as exc:
        raise InputError(f"archive {receipt.file} cannot be read: {exc.strerror or exc}") from None
    if digest != receipt.sha256:
        raise InputError(f"archive {receipt.file} is not the file that was verified (its SHA-256 changed)")
