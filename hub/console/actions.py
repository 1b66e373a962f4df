"""The console's own action log: who did what, when, and how it went.

Operator actions that change a message are also chain records in the message
log (``replayed`` / ``discarded`` with the actor); this file additionally
keeps what the chain cannot: actions on dead letters the log does not know,
audit-chain checks, failed attempts. One JSON object per line, appended under
a lock, so a crash leaves at most one partial last line (skipped on reading).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from datetime import datetime, timezone
from pathlib import Path


class ActionLog:
    """Append-only JSON-lines file of console actions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, actor: str, role: str, action: str, target: str, outcome: str, detail: str = "") -> dict:
        """Append one action; the entry written."""
        entry = {"at": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 "actor": actor, "role": role, "action": action, "target": target,
                 "outcome": outcome, "detail": detail}
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as out:
                # a torn last line (crash mid-write) must not swallow this entry
                if out.tell() and (out.seek(-1, 2), out.read(1))[1] != b"\n":
                    line = "\n" + line
                out.write(line.encode("utf-8"))
        return entry

    def recent(self, limit: int = 100) -> list[dict]:
        """The newest ``limit`` entries, newest first."""
        if not self.path.is_file():
            return []
        tail: deque[dict] = deque(maxlen=max(1, limit))
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    tail.append(json.loads(line))
                except ValueError:
                    continue  # a torn last line after a crash
        return list(reversed(tail))
