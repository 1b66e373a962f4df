"""The drop folders of one agency, and the few file operations the watcher needs.

    $RABT_HOME/drop/<agency>/inbox/       the agency writes here (temp name, then rename)
                             processing/  claimed by exactly one watcher (atomic rename)
                             done/        accepted, with <name>.receipt.json
                             failed/      rejected, with <name>.report.json and .report.txt
                             quarantine/  kept failing to open or move, with a report

Every path is jailed to the drop root: agency names are checked, folder
entries are taken by name from ``scandir`` (never a path from outside),
symbolic links are never followed, and each folder must resolve to itself
under the root. A claimed file is opened with ``O_NOFOLLOW`` and locked
(``flock``), so a watcher resuming ``processing/`` after a crash never
takes a file another live watcher holds.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import heapq
import itertools
import os
import re
import stat
from collections.abc import Container, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hub.errors import ConfigError
from hub.filedrop.names import DONE_MARKER, Entry, numbered_name

SUBFOLDERS = ("inbox", "processing", "done", "failed", "quarantine")
_AGENCY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "dir" if stat.S_ISDIR(mode) else "other"


@dataclass
class Claim:
    """A file this watcher holds in ``processing/``: open (no links followed) and locked.

    ``size`` is what ``fstat`` said when it was locked (-1: not known), so reading it needs no fstat of its own.
    """

    path: Path
    fd: int
    size: int = -1

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


@dataclass(frozen=True)
class DropFolders:
    """``root/<agency>/{inbox,processing,done,failed,quarantine}``, created and checked."""

    root: Path
    agency: str

    @classmethod
    def create(cls, root: Path, agency: str) -> DropFolders:
        if not _AGENCY.match(agency or ""):
            raise ConfigError(f"invalid agency name for a drop folder: {agency!r}")
        root = Path(root).resolve()
        folders = cls(root, agency)
        for name in SUBFOLDERS:
            path = root / agency / name
            path.mkdir(parents=True, exist_ok=True)
            if path.is_symlink() or path.resolve() != path:
                raise ConfigError(f"drop folder {path} must be a real folder under {root}", agency=agency)
        return folders

    def folder(self, name: str) -> Path:
        return self.root / self.agency / name

    @property
    def inbox(self) -> Path:
        return self.folder("inbox")

    @property
    def processing(self) -> Path:
        return self.folder("processing")

    def names(self, folder: str) -> list[str]:
        """Names in one of the four folders, sorted (only names: cheap for 100,000s of files)."""
        with os.scandir(self.folder(folder)) as scan:
            return sorted(item.name for item in scan)

    def first_names(self, folder: str, count: int, skip: Container[str] = ()) -> list[str]:
        """The ``count`` first names of a folder in sorted order, leaving out ``skip``.

        Never more than ``count`` names are held: a folder of 180,000 files is
        not listed whole to keep the first few thousand.
        """
        with os.scandir(self.folder(folder)) as scan:
            return heapq.nsmallest(count, (item.name for item in scan if item.name not in skip))

    def entry(self, folder: str, name: str) -> Entry | None:
        """``name`` as ``lstat`` sees it (links not followed); None if it is gone."""
        try:
            info = os.lstat(self._path(folder, name))
        except FileNotFoundError:
            return None  # taken by another watcher meanwhile
        return Entry(name, _kind(info.st_mode), info.st_nlink, info.st_size)

    def entries(self, folder: str) -> Iterator[Entry]:
        """Entries of one of the four folders, sorted by name."""
        for name in self.names(folder):
            entry = self.entry(folder, name)
            if entry is not None:
                yield entry

    def exists(self, folder: str, name: str) -> bool:
        return os.path.lexists(self._path(folder, name))

    def claim(self, name: str) -> Claim | None:
        """Move ``inbox/name`` to ``processing/`` and lock it; None if another watcher was faster.

        OSError when the file cannot be moved or opened (permissions, say): it
        is then back in the inbox, never left in ``processing/`` unheld.
        """
        target = self._path("processing", name)
        try:
            rename_no_replace(self._path("inbox", name), target)
        except (FileNotFoundError, FileExistsError):
            return None  # another watcher took it, or a file of that name is still in processing/
        try:
            claim = self._held(target, strict=True)
        except OSError:
            self.back_to_inbox(Path(target))
            raise
        self._discard_marker(name)
        return claim

    def hold(self, name: str) -> Claim | None:
        """Open and lock ``processing/name``; None if it is locked, gone or not a plain file."""
        return self._held(self._path("processing", name))

    def _held(self, path: str, strict: bool = False) -> Claim | None:
        """``path`` opened and locked; None if locked or swapped, or (unless ``strict``) unopenable."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            if strict:
                raise
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Still the file we opened, still here (not moved on by the watcher that held it)?
            opened = os.fstat(fd)
            same = os.stat(path, follow_symlinks=False).st_ino == opened.st_ino and stat.S_ISREG(opened.st_mode)
        except OSError:
            same = False
        if not same:
            os.close(fd)
            return None
        return Claim(Path(path), fd, opened.st_size)

    def finish(self, path: Path, folder: str, sidecars: dict[str, bytes], name: str | None = None) -> Path:
        """Move ``path`` into ``done/`` or ``failed/`` (numbered if the name is taken) with its sidecars.

        ``name`` files it under another name than its own (one that cannot be used).

        Sidecars (``.receipt.json``, ``.report.txt``…) come first, each written
        whole and then linked under its name, so whoever watches the folder
        sees a finished file only once its receipt or report is complete. A
        link and the final rename never replace: they claim the name, with no
        look-up that another watcher could overtake; a taken name moves on to
        the next number.
        """
        for number in itertools.count(1):
            target = self._path(folder, numbered_name(name or path.name, number))
            linked = []
            try:
                for suffix, data in sidecars.items():
                    write_new(target + suffix, data)
                    linked.append(target + suffix)
                rename_no_replace(path, target)
                return Path(target)
            except FileExistsError:
                for sidecar in linked:
                    os.unlink(sidecar)
        raise AssertionError("unreachable")

    def head(self, folder: str, name: str, limit: int = 4096) -> bytes | None:
        """The first ``limit`` bytes of ``folder/name`` (links not followed); None if it is not there."""
        try:
            fd = os.open(self._path(folder, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            return os.read(fd, limit)
        except OSError:
            return None
        finally:
            os.close(fd)

    def back_to_inbox(self, path: Path) -> None:
        """Return a claimed file to the inbox (the hub could not store it right now)."""
        target = self._member("inbox", path.name)
        if not os.path.lexists(target):
            os.rename(path, target)

    def _discard_marker(self, name: str) -> None:
        try:
            os.unlink(self._path("inbox", name + DONE_MARKER))
        except FileNotFoundError:
            pass

    @cached_property
    def _paths(self) -> dict[str, str]:
        return {folder: os.path.join(self.root, self.agency, folder) for folder in SUBFOLDERS}

    def _member(self, folder: str, name: str) -> Path:
        """``folder/name``, refusing anything that is not a plain name in one of the four folders."""
        return Path(self._path(folder, name))

    def _path(self, folder: str, name: str) -> str:
        """:meth:`_member` as text: the watcher's per-file calls skip building Path objects."""
        base = self._paths.get(folder)
        if base is None or not name or "/" in name or "\0" in name or name in (".", ".."):
            raise ConfigError(f"refusing path {folder}/{name!r} outside the drop folders", agency=self.agency)
        return base + os.sep + name


_LIBC = ctypes.CDLL(None, use_errno=True)
_RENAMEAT2 = getattr(_LIBC, "renameat2", None)
_AT_FDCWD, _RENAME_NOREPLACE = -100, 1


def rename_no_replace(source: Path | str, target: Path | str) -> None:
    """Atomic rename that fails (FileExistsError) instead of replacing ``target``.

    Linux ``renameat2(RENAME_NOREPLACE)``; where the call or the file system
    lacks it, a check-then-rename (a narrow race, only between same-named files).
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(code, os.strerror(code), str(source))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "target exists", str(target))
    os.rename(source, target)


def write_atomically(path: Path | str, data: bytes) -> None:
    """Write ``path`` through ``.<name>.tmp`` and a rename: readers see all of it or nothing."""
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def write_new(path: str, data: bytes) -> None:
    """Create ``path`` holding ``data``, complete when it appears; FileExistsError if it exists.

    Written under a hidden temporary name (``.<name>.<pid>.tmp``) and renamed into
    place by :func:`rename_no_replace`, which never replaces. An unnamed file
    (``O_TMPFILE``) linked through ``/proc`` left nothing behind after a crash, but
    cost about twice the kernel time: ~0.1 ms of a wage file's 1.8 ms. A crash between
    the two steps can leave the hidden temporary; the file it was for is then still
    in ``processing/`` and gets its receipt when it is resumed.
    """
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    try:
        rename_no_replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
