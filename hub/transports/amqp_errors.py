"""What pika says when a connection fails, made one line; pika's own per-attempt logging quieted.

pika logs every failed connection attempt as seven ERROR lines and a
traceback, and nests the socket's error a few exceptions deep. The transport
turns each failure into one BrokerUnavailableError naming the socket's reason,
and role loops say "broker unreachable" once per outage (:mod:`hub.outage`),
so pika's lines add nothing but noise.
"""

from __future__ import annotations

import logging


def quiet_pika_logging() -> None:
    """Only pika's CRITICAL lines from now on, unless an operator set a level on the ``pika`` logger."""
    pika_log = logging.getLogger("pika")
    if pika_log.level == logging.NOTSET:
        pika_log.setLevel(logging.CRITICAL)


def connection_problem(exc: BaseException) -> str:
    """What a pika connection error says, in one line: pika nests the socket error a few levels deep."""
    for _level in range(8):
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        failed_tries = getattr(exc, "exceptions", None)  # AMQPConnectionWorkflowFailed: one per address tried
        if inner is None and failed_tries:
            inner = failed_tries[-1]
        if inner is None:  # a connector phase's error keeps the socket's in .exception
            inner = getattr(exc, "exception", None)
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return " ".join((str(exc) or type(exc).__name__).split()) or type(exc).__name__
