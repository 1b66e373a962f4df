"""The figures of the hub's background roles: anchor stamps by the TSA, the retention role's archives
and purges, and roles restarted by their supervisor.

Separate from the message flow's metrics: these count what the roles beside
it do, each recorded by that role (:mod:`hub.stamping`, :mod:`hub.retention`,
the supervisors of :mod:`hub.roles` and :mod:`hub.prefork`); the stamp and
retention backlogs are sampled by the console.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from hub.metrics.registry import REGISTRY, label

STAMPS = Counter("rabt_anchor_stamps_total", "Message-log anchors stamped by the TSA, token verified and stored.",
                 registry=REGISTRY)
STAMP_FAILURES = Counter("rabt_anchor_stamp_failures_total",
                         "Requests to the TSA that gave no usable token, by error code (unreachable, rejected…).",
                         ("code",), registry=REGISTRY)
UNSTAMPED_ANCHORS = Gauge("rabt_anchors_unstamped", "Message-log anchors still waiting for a timestamp token.",
                          multiprocess_mode="livemax", registry=REGISTRY)
UNSTAMPED_AGE = Gauge("rabt_anchor_unstamped_oldest_age_seconds",
                      "Seconds since the oldest anchor without a timestamp token was taken (0: none waits).",
                      multiprocess_mode="livemax", registry=REGISTRY)


def record_stamp(count: int = 1) -> None:
    """``count`` anchors got a verified token."""
    STAMPS.inc(count)


def record_stamp_failure(code: str) -> None:
    """A request to the TSA failed with error ``code`` (``RabtError.code``)."""
    STAMP_FAILURES.labels(label(code)).inc()


def set_stamp_backlog(count: int, oldest_age: float) -> None:
    """``count`` anchors wait for a token, the oldest for ``oldest_age`` seconds."""
    UNSTAMPED_ANCHORS.set(count)
    UNSTAMPED_AGE.set(oldest_age)


RETENTION_ARCHIVES = Counter("rabt_retention_archives_total", "Periods archived (and verified) by the retention role.",
                             registry=REGISTRY)
RETENTION_ARCHIVED_RECORDS = Counter("rabt_retention_archived_records_total",
                                     "Chain records written into the retention role's archives.", registry=REGISTRY)
RETENTION_PURGED = Counter("rabt_retention_purged_messages_total",
                           "Messages whose payloads the retention role purged from the log (archived).",
                           registry=REGISTRY)
RETENTION_FAILURES = Counter("rabt_retention_failures_total", "Retention rounds that failed (archive or purge).",
                             registry=REGISTRY)
RETENTION_PREVIOUS_MISSING = Counter("rabt_retention_previous_missing_total",
                                     "Archives written whose previous archive (the one they continue) was no longer "
                                     "in the retention folder.", registry=REGISTRY)
RETENTION_OVERDUE = Gauge("rabt_retention_overdue_seconds",
                          "Seconds past the round that should have archived the newest closed period (0: archived); "
                          "sampled by the console where retention is configured.",
                          multiprocess_mode="livemax", registry=REGISTRY)


def record_retention_archive(records: int) -> None:
    """A period was archived: ``records`` chain records in it."""
    RETENTION_ARCHIVES.inc()
    RETENTION_ARCHIVED_RECORDS.inc(records)


def record_retention_purge(messages: int) -> None:
    """The payloads of ``messages`` messages were purged."""
    RETENTION_PURGED.inc(messages)


def record_retention_failure() -> None:
    """A retention round failed."""
    RETENTION_FAILURES.inc()


def record_retention_previous_missing() -> None:
    """An archive was written whose previous archive's file is gone from the folder."""
    RETENTION_PREVIOUS_MISSING.inc()


def set_retention_overdue(seconds: float) -> None:
    """The newest closed period's archive is ``seconds`` overdue (0: it is archived)."""
    RETENTION_OVERDUE.set(seconds)


ROLE_RESTARTS = Counter("rabt_role_restarts_total",
                        "Times a role of this process crashed and was started again by its supervisor.",
                        ("role",), registry=REGISTRY)


def record_role_restart(role: str) -> None:
    """A role loop crashed and its supervisor is starting it again."""
    ROLE_RESTARTS.labels(label(role)).inc()
