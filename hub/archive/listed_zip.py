"""A ZIP being written that lists every entry's SHA-256 and size, for an archive's manifest.

Every entry carries one fixed time (the archive's covering anchor's), so the
same period written again makes the same entries.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class ListedZip:
    """A ZIP being written, listing every entry's SHA-256 and size for the manifest."""

    def __init__(self, path: Path, moment: tuple) -> None:
        self.file = zipfile.ZipFile(path, "w", allowZip64=True)
        self.listed: list[tuple[str, str, int]] = []
        self.moment = moment
        """Every entry's time: the covering anchor's, so the same period makes the same entries."""

    def __enter__(self) -> ListedZip:
        return self

    def __exit__(self, *exc_info) -> None:
        self.file.close()

    def _info(self, name: str, stored: bool = False) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, self.moment)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def add(self, name: str, data: bytes, *, stored: bool = False, listed: bool = True) -> None:
        """Write a small entry whole."""
        self.file.writestr(self._info(name, stored), data)
        if listed:
            self.listed.append((name, hashlib.sha256(data).hexdigest(), len(data)))

    @contextmanager
    def entry(self, name: str) -> Iterator[Callable[[bytes], None]]:
        """Stream an entry: the block writes through the function it gets."""
        digest, size = hashlib.sha256(), 0
        with self.file.open(self._info(name), "w", force_zip64=True) as stream:
            def write(data: bytes) -> None:
                nonlocal size
                digest.update(data)
                stream.write(data)
                size += len(data)

            yield write
        self.listed.append((name, digest.hexdigest(), size))
