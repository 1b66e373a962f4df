"""Writing and checking one signed open-data publication (see :mod:`simulators.licensing.open_data`).

The manifest (``manifest.xml``, namespace ``urn:rabt:opendata:v1``) lists each
file with its size and SHA-256 and carries the hub's enveloped XML-DSig.
:func:`verify_publication` is what a consumer does: verify the signature
against the hub's pinned certificate, then hash every listed file and refuse
any difference, a file missing, or a file the manifest does not list.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from hub.errors import InputError, SignatureError
from hub.signing import Signer, Verifier
from hub.xmlsafe import parse_xml
from simulators.licensing import open_data
from simulators.licensing.state import LicensingState, utc_text

NS = open_data.MANIFEST_NS
_M = f"{{{NS}}}"
MANIFEST = "manifest.xml"
_MEDIA = {".json": "application/json", ".csv": "text/csv"}


@dataclass(frozen=True)
class Published:
    """Where a publication went and what it holds."""

    folder: Path
    files: tuple[str, ...]
    generated_at: str


def contents(state: LicensingState, governorate_of, generated_at: str,
             threshold: int = open_data.stats.THRESHOLD) -> dict[str, bytes]:
    """File name → bytes of every data and schema file of one publication."""
    records = open_data.tables(state, governorate_of, threshold)
    document = {"title": "Labour licensing statistics", "generated_at": generated_at,
                "suppression": {"threshold": threshold, "rule": open_data.SUPPRESSION_RULE}, "tables": records}
    files = {"statistics.json": _json(document), "statistics.schema.json": _json(open_data.json_schema()),
             "datapackage.json": _json(open_data.data_package())}
    files |= {f"{table}.csv": open_data.csv_text(table, rows) for table, rows in records.items()}
    return files


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def manifest(files: dict[str, bytes], generated_at: str) -> etree._Element:
    """The unsigned manifest of ``files``."""
    root = etree.Element(_M + "Publication", nsmap={None: NS})
    etree.SubElement(root, _M + "Dataset").text = "rabt-labour-statistics"
    etree.SubElement(root, _M + "GeneratedAt").text = generated_at
    for name in sorted(files):
        etree.SubElement(root, _M + "File", name=name, bytes=str(len(files[name])),
                         mediaType=_MEDIA[Path(name).suffix], sha256=hashlib.sha256(files[name]).hexdigest())
    return root


def publish(state: LicensingState, root: Path, signer: Signer, governorate_of, *,
            now: datetime | None = None) -> Published:
    """Write one publication under ``root``; a new folder, complete before it appears."""
    moment = now or datetime.now(timezone.utc)
    generated_at = utc_text(moment)
    files = contents(state, governorate_of, generated_at)
    files[MANIFEST] = signer.sign_bytes(manifest(files, generated_at))
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"statistics-{moment.strftime('%Y%m%dT%H%M%S%fZ')}"
    staging = Path(tempfile.mkdtemp(prefix=".publishing-", dir=root))
    for name, data in files.items():
        (staging / name).write_bytes(data)
    os.replace(staging, final)
    return Published(final, tuple(sorted(files)), generated_at)


def verify_publication(folder: Path, verifier: Verifier, signer: str = "hub") -> dict[str, str]:
    """Check a publication as a consumer would; file name → SHA-256 of each data file it vouches for."""
    try:
        document = parse_xml((folder / MANIFEST).read_bytes())
    except OSError as exc:
        raise InputError(f"no readable {MANIFEST} in {folder}: {exc}") from exc
    signed = verifier.verify(document, expected_signer=signer).element
    listed = {f.get("name"): f.get("sha256") for f in signed.iterfind(_M + "File")}
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST}
    if present != set(listed):
        raise SignatureError(f"files not as signed: missing {sorted(set(listed) - present)}, "
                             f"unlisted {sorted(present - set(listed))}")
    for name, expected in listed.items():
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != expected:
            raise SignatureError(f"{name} differs from the SHA-256 the signed manifest gives")
    return listed
