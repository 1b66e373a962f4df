"""The tamper-evident message log (SQLite by default, PostgreSQL by URL).

Every raw payload and signed envelope is stored, with an outbox row, before
it is published; every status change is a record in a SHA-256 hash chain
that :meth:`MessageLog.verify_chain` re-checks against the stored bytes.

    log = open_message_log("sqlite:////var/rabt/messages.sqlite3")
    log.accept(Accepted.from_header(header, raw, envelope))
    log.verify_chain()          # AuditChainError names the first broken record

Threads writing at once (the gateway) share commits through a GroupCommitter:

    committer = GroupCommitter(log)
    committer.accept(record)    # returns once its group is durable
"""

from hub.messagelog.accepting import BatchResult
from hub.messagelog.circuits import CircuitReports  # also declares its table with the rest of the layout
from hub.messagelog.controls import ControlBoard  # also declares its table with the rest of the layout
from hub.messagelog.group import GroupCommitter
from hub.messagelog.log import MessageLog, open_message_log
from hub.messagelog.records import (
    STATUSES, Accepted, Event, LogStats, PendingMessage, Refusal, StoredMessage,
)
from hub.messagelog.verify import ChainReport

__all__ = [
    "STATUSES", "Accepted", "BatchResult", "ChainReport", "CircuitReports", "ControlBoard", "Event", "GroupCommitter", "LogStats", "MessageLog",
    "PendingMessage", "Refusal", "StoredMessage", "open_message_log",
]
