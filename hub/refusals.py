"""What the message log keeps of refused input: every refusal within a budget, a summary beyond it.

A hostile or broken partner can send thousands of bad requests a second. Each
refusal is counted (``rabt_messages_refused_total``, by the pipeline), but the
hash-chained log must not grow with the flood: each source (an agency and,
for the gateway, the calling address) has a token bucket of records. Within
it every refusal is a record; beyond it refusals are only tallied, and one
summary record per source and ``summary_every`` seconds says how many were
not kept one by one, with the last one's reason and digest.

    book = RefusalBook(log, RefusalBudget(per_second=1.0, burst=20))
    book.keep(raw, agency="police", source="10.0.0.7", reason="parse: …")
    book.flush()    # on shutdown: the tallies not summarised yet
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import MessageLogError
from hub.messagelog import MessageLog
from hub.messagelog.records import REFUSAL_HEAD_BYTES, input_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefusalBudget:
    """How many refusal records one source may add to the log."""

    per_second: float = 1.0
    """Records a source earns back per second once its burst is spent."""

    burst: int = 20
    """Records a source may add at once (the bucket's size)."""

    summary_every: float = 60.0
    """Seconds between two summary records of one source's refusals beyond its budget."""

    max_sources: int = 10_000
    """Sources tracked at once; the least recently seen is summarised and forgotten beyond it,
    so a flood from many addresses cannot grow memory either."""


@dataclass
class _Source:
    tokens: float
    refilled_at: float
    summarised_at: float
    untold: int = 0
    last_reason: str = ""
    last_head: bytes = b""
    last_sha256: str | None = None
    last_size: int = 0


@dataclass(frozen=True)
class _Summary:
    agency: str
    source: str
    count: int
    reason: str
    head: bytes
    sha256: str | None
    size: int


class RefusalBook:
    """Decides which refusals become log records; thread-safe (gateway threads refuse at once)."""

    def __init__(self, message_log: MessageLog, budget: RefusalBudget | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = message_log
        self.budget = budget or RefusalBudget()
        self._clock = clock
        self._sources: OrderedDict[tuple[str, str], _Source] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, raw: bytes, *, agency: str, reason: str, source: str | None = None,
             input_sha256: str | None = None, input_size: int | None = None) -> str | None:
        """Record this refusal if the source's budget allows; its refusal id, or None when only tallied."""
        source = source or agency
        with self._lock:
            kept, due = self._take(agency, source, raw, reason, input_sha256, input_size)
        for summary in due:
            self._write_summary(summary)
        if not kept:
            return None
        return self._write(raw, agency, reason, input_sha256, input_size)

    def flush(self) -> int:
        """Write a summary for every source with untold refusals (on shutdown); how many were written."""
        with self._lock:
            due = [self._summary(key, entry) for key, entry in self._sources.items() if entry.untold]
            for entry in self._sources.values():
                entry.untold = 0
        for summary in due:
            self._write_summary(summary)
        return len(due)

    def _take(self, agency, source, raw, reason, input_sha256, input_size) -> tuple[bool, list[_Summary]]:
        now, key, due = self._clock(), (agency, source), []
        entry = self._sources.get(key)
        if entry is None:
            entry = self._sources[key] = _Source(float(self.budget.burst), now, now)
            due += self._evict()
        self._sources.move_to_end(key)
        entry.tokens = min(float(self.budget.burst), entry.tokens + (now - entry.refilled_at) * self.budget.per_second)
        entry.refilled_at = now
        if entry.tokens >= 1.0:
            entry.tokens -= 1.0
            kept = True
        else:
            kept = False
            entry.untold += 1
            entry.last_reason, entry.last_head = reason, bytes(raw[:REFUSAL_HEAD_BYTES])
            entry.last_sha256, entry.last_size = input_digest(raw, input_sha256, input_size)
        if entry.untold and now - entry.summarised_at >= self.budget.summary_every:
            due.append(self._summary(key, entry))
            entry.untold, entry.summarised_at = 0, now
        return kept, due

    def _evict(self) -> list[_Summary]:
        due = []
        while len(self._sources) > self.budget.max_sources:
            key, entry = self._sources.popitem(last=False)
            if entry.untold:
                due.append(self._summary(key, entry))
        return due

    @staticmethod
    def _summary(key: tuple[str, str], entry: _Source) -> _Summary:
        return _Summary(key[0], key[1], entry.untold, entry.last_reason, entry.last_head, entry.last_sha256,
                        entry.last_size)

    def _write_summary(self, summary: _Summary) -> None:
        reason = (f"summary: {summary.count} more refusal(s) from {summary.source} over its record budget were "
                  f"counted but not kept one by one; the last: {summary.reason}")
        self._write(summary.head, summary.agency, reason, summary.sha256, summary.size)

    def _write(self, raw, agency, reason, input_sha256, input_size) -> str | None:
        try:
            return self.log.refuse(raw, agency, reason, input_sha256=input_sha256, input_size=input_size)
        except MessageLogError as exc:
            # The refusal stands (the caller answers it and the counter has it); only its record is lost.
            log.warning("could not record a refusal of %s input: %s", agency, exc)
            return None
