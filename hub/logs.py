"""Logging for the long-running commands, set up in one place.

``rabt serve``, ``worker``, ``console``, ``drop watch`` and the licensing
consumer call :func:`configure_logging` once. Two formats:

* ``text`` (default): ``time level role logger: message`` for a terminal;
* ``json``: one object per line for an operator's log collector, with the
  keys ``time level role agency message_id event logger message`` (+ ``error``
  and ``traceback`` when an exception is attached, still on that one line).

``role`` is the served role (``rabt serve`` runs each in a thread named
``rabt-<role>``), else the command's own name. ``agency``, ``message_id`` and
``event`` come from ``extra={...}`` or from a :class:`~hub.errors.RabtError`
being logged. Every line goes through :func:`hub.redact.redact_text`, so a
URL's password never reaches the log.

During an outage a loop tries again and again; a :class:`hub.outage.Watch`
makes that one line when the broker (or database) goes away and one when it is
back, instead of a line, or a traceback, per try. pika's own loggers, which write
eight ERROR lines and a traceback per failed connection attempt, are kept to
CRITICAL for the same reason: the transport reports the broker's state itself.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO

import click

from hub.errors import RabtError
from hub.redact import redact_text

FORMATS = ("text", "json")

#: libraries that log every retry of what our loops already report once per state change
_CHATTY = ("pika",)

#: libraries that narrate their routine work at INFO (alembic: a line per plugin and revision on every open)
_NARRATING = ("alembic",)

#: thread-name prefix of the roles ``rabt serve`` runs (``hub.serve.Supervisor``)
_ROLE_THREAD_PREFIX = "rabt-"


class _Context(logging.Filter):
    """Adds ``role``, ``agency``, ``message_id`` and ``event`` to every record."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        thread = threading.current_thread().name
        default_role = thread[len(_ROLE_THREAD_PREFIX):] if thread.startswith(_ROLE_THREAD_PREFIX) else self.role
        error = record.exc_info[1] if record.exc_info else None
        record.role = getattr(record, "role", None) or default_role
        record.agency = getattr(record, "agency", None) or getattr(error, "agency", None)
        record.message_id = getattr(record, "message_id", None) or getattr(error, "message_id", None)
        record.event = getattr(record, "event", None) or (
            f"error.{error.code}" if isinstance(error, RabtError) else None)
        return True


class TextFormatter(logging.Formatter):
    """The terminal format; passwords masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(role)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; passwords masked, newlines only inside strings (escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "role": getattr(record, "role", None),
            "agency": getattr(record, "agency", None),
            "message_id": getattr(record, "message_id", None),
            "event": getattr(record, "event", None),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = redact_text(f"{type(error).__name__}: {error}")
            entry["traceback"] = redact_text("".join(traceback.format_exception(*record.exc_info)))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(role: str, log_format: str = "text", *, level: int = logging.INFO,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Send the process's log records to ``stream`` (stderr) in ``log_format``; the handler installed.

    Replaces whatever handlers the root logger had, so calling it twice does
    not double every line.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_Context(role))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for name in _NARRATING:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


#: ``--log-format`` for every long-running command; RABT_LOG_FORMAT sets it in the environment
log_format_option = click.option(
    "--log-format", type=click.Choice(FORMATS), default="text", show_default=True, envvar="RABT_LOG_FORMAT",
    help="Log lines as text, or one JSON object per line for a log collector (RABT_LOG_FORMAT).")


@contextmanager
def silenced(name: str) -> Iterator[None]:
    """Keep logger ``name`` quiet for a while: for a caller that reports the same failure itself, in one line."""
    logger = logging.getLogger(name)
    level, logger.level = logger.level, logging.CRITICAL
    try:
        yield
    finally:
        logger.setLevel(level)
