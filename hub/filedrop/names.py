"""Pure decisions about dropped files: what to do with a name, how to name results.

Nothing here touches the disk. The watcher takes a snapshot of a folder
entry (:class:`Entry`), asks :func:`decide`, and carries the answer out;
tests can therefore cover every case — temp files, symlinks, names that
match no pattern, a marker still missing — without building folders.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from hub.adapter import FileDrop

#: suffixes of files that are still being written (or are only markers): never read
IN_FLIGHT_SUFFIXES = (".tmp", ".part", ".done")
DONE_MARKER = ".done"
#: bytes a file system allows in one name (ext4, XFS, btrfs: 255 bytes, whatever the characters)
NAME_LIMIT = 255
#: the most the hub adds to a name it files: ``~<number>`` (up to 99,999 of one name),
#: ``.receipt.json``, and the hidden temporary ``.<name>.<sidecar>.<pid>.tmp`` a sidecar is written
#: through (``folders.write_new``; a pid has up to 7 digits; the budget keeps room for one more suffix)
ADDED_BYTES = len("~99999") + len(".receipt.json") + len("...9999999.tmp.tmp")
#: the longest name (in UTF-8 bytes) the hub files under its own name: every suffix still fits
MAX_NAME_BYTES = NAME_LIMIT - ADDED_BYTES
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")
_MAX_SOURCE_ID = 128
#: whitespace as str.isspace() sees it (re's \s is the same test), found in C
_SPACE = re.compile(r"\s")
_SAFE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,8}$")


class Action(enum.Enum):
    """What the watcher does with one inbox entry."""

    IGNORE = "ignore"
    """Not ours to read (yet): dotfiles, temp names, markers."""
    WAIT = "wait"
    """Ours, but not now: its done-marker is missing, or a file of that name is in processing."""
    CLAIM = "claim"
    """Move it to ``processing/`` and read it."""
    REJECT = "reject"
    """Move it to ``failed/`` with a report, unread."""


@dataclass(frozen=True)
class Entry:
    """What the watcher saw of one folder entry (``lstat``, never following links)."""

    name: str
    kind: str
    """``file``, ``symlink``, ``dir`` or ``other``."""
    links: int = 1
    size: int = 0


@dataclass(frozen=True)
class Decision:
    """The answer for one entry; ``drop`` is set for CLAIM."""

    action: Action
    reason: str = ""
    drop: FileDrop | None = None


def in_flight(name: str) -> bool:
    """True for names a writer is still busy with, and for hidden files."""
    return name.startswith(".") or name.endswith(IN_FLIGHT_SUFFIXES)


def matching_drop(name: str, drops: Sequence[FileDrop]) -> FileDrop | None:
    """The first declared drop whose pattern matches ``name`` (case-sensitive)."""
    return next((drop for drop in drops if fnmatchcase(name, drop.pattern)), None)


def decide(entry: Entry, drops: Sequence[FileDrop], *, busy: bool = False,
           marker: bool = False, require_marker: bool = False) -> Decision:
    """What to do with ``entry`` found in an inbox.

    ``busy``: a file of that name is being processed; ``marker``: its
    ``<name>.done`` marker exists; ``require_marker``: the agency writes markers.
    """
    name = entry.name
    if in_flight(name):
        return Decision(Action.IGNORE, "being written, hidden or a marker")
    if _UNSAFE.search(name):
        return Decision(Action.REJECT, "file name has control characters or path separators")
    if not fits(name):
        return Decision(Action.REJECT, f"file name is {name_bytes(name)} bytes in UTF-8, over the limit "
                                       f"of {MAX_NAME_BYTES} bytes; use a shorter name")
    if entry.kind == "symlink":
        return Decision(Action.REJECT, "symbolic links are refused: drop the file itself")
    if entry.kind != "file":
        return Decision(Action.REJECT, f"not a regular file ({entry.kind})")
    if entry.links > 1:
        return Decision(Action.REJECT, "hard-linked files are refused: drop a copy of the file")
    drop = matching_drop(name, drops)
    if drop is None:
        patterns = ", ".join(d.pattern for d in drops) or "(none)"
        return Decision(Action.REJECT, f"file name is not accepted here; expected {patterns}")
    if require_marker and not marker:
        return Decision(Action.WAIT, f"waiting for {name}{DONE_MARKER}")
    if busy:
        return Decision(Action.WAIT, "a file of that name is still being processed")
    return Decision(Action.CLAIM, drop=drop)


def name_bytes(name: str) -> int:
    """Length of ``name`` as the file system counts it (bytes; an Arabic letter is two)."""
    return len(os.fsencode(name))


def fits(name: str) -> bool:
    """Whether ``name`` and every name the hub derives from it stay within the file system's limit."""
    return name_bytes(name) <= MAX_NAME_BYTES and _valid_text(name)


def filed_name(name: str) -> str:
    """The name ``name`` is filed under: itself when safe, else a generated one.

    A name too long for the suffixes the hub adds, with control characters or
    bytes that are not UTF-8, cannot be filed as it is; the generated name is
    the same for the same original (``unnamed-<hash>``, keeping a short
    extension), and the report quotes the original.
    """
    if fits(name) and not _UNSAFE.search(name) and name not in (".", ".."):
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:20]
    extension = _SAFE_EXTENSION.search(name)
    return f"unnamed-{digest}{extension.group() if extension else ''}"


def _valid_text(name: str) -> bool:
    try:
        name.encode("utf-8")  # names with undecodable bytes hold surrogates here
    except UnicodeEncodeError:
        return False
    return True


def source_message_id(file_sha256: str, source_id: str | None) -> str:
    """The agency message id of one item: the file's content hash plus the item's own id.

    Deterministic, so the same content dropped twice — or a file resumed after
    a crash — maps every item to the id it had the first time, and the message
    log's duplicate check keeps it from being published twice.
    """
    item = (source_id or "").strip() or "item"
    candidate = f"{file_sha256[:40]}/{item}"
    if len(candidate) <= _MAX_SOURCE_ID and not _SPACE.search(candidate):
        return candidate
    return f"{file_sha256[:40]}/sha256:{hashlib.sha256(item.encode('utf-8')).hexdigest()}"


def numbered_name(name: str, number: int) -> str:
    """``name`` for the ``number``-th file of that name in a folder: ``a.csv``, ``a~2.csv``…"""
    if number <= 1:
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}~{number}{dot}{suffix}"
