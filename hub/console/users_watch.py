"""The console's users and tokens, read again when their file changes.

``rabt console user`` and ``rabt console token`` write the users file while
the console runs (often in another process): a new token must work, and a
changed password or role — or a user taken out — must stop the old one, without
restarting the console. :class:`WatchedUsers` looks at the file's size and
modification time (and which file the name points at: the CLI renames a new one
into place) at most once per ``interval`` seconds and reads it again when any
changed — a password changed within one tick of the file system's clock leaves
size and time alike. A file that has become unreadable or malformed keeps the last
good users (and says so once in the log) rather than letting nobody — or the
wrong people — in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hub.console.users import Users
from hub.errors import ConfigError

log = logging.getLogger(__name__)


class WatchedUsers:
    """The users of ``path``, current to within ``interval`` seconds. Thread-safe."""

    def __init__(self, path: Path, *, interval: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.interval, self.clock = path, interval, clock
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._users = Users.load(path)  # a malformed file at start is the operator's to fix: ConfigError
        self._looked = clock()

    def current(self) -> Users:
        """The users as the file says now (re-read if it changed since the last look)."""
        with self._lock:
            if self.clock() - self._looked >= self.interval:
                self._looked = self.clock()
                stamp = self._stat()
                if stamp != self._stamp:
                    self._reload(stamp)
            return self._users

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        try:
            self._users = Users.load(self.path)
        except ConfigError as exc:
            log.warning("console users not reloaded, the last good ones stay: %s", exc,
                        extra={"event": "console.users-unreadable"})
        else:
            log.info("console users reloaded from %s", self.path, extra={"event": "console.users-reloaded"})
        self._stamp = stamp

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None  # missing: Users.load says nobody may log in
        return info.st_ino, info.st_mtime_ns, info.st_size
