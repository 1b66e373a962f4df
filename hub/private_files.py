"""Files that hold secrets (private keys, password hashes), private from their first byte.

Writing a file and ``chmod``-ing it afterwards leaves a moment in which it
exists with the process umask's mode (0644 under the usual 022): long enough
for another local user to open it and keep reading after the chmod. So a
secret file is created with mode 0600 by the ``open`` call itself, under a
fresh temporary name in the target's folder, filled, flushed to disk and then
renamed over the target: readers see the old file or the whole new one, and
nobody but the owner ever sees either.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` (mode 0600 from creation on), atomically.

    With ``replace=False`` an existing ``path`` is left alone and
    FileExistsError raised (a link never overwrites).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True if this call created it.

    For files another library fills in afterwards (an SQLite database): it then
    opens a file that is already private.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    except FileExistsError:
        return False
    return True
