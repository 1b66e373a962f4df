"""Helpers for test suites and benchmarks that run against a real broker.

No pytest here: callers decide whether an unreachable broker is a skip or a
failure (``RABT_REQUIRE_BROKER=1``).
"""

from __future__ import annotations

import uuid

from hub.routing import Routes, load_routes

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def broker_problem(url: str = DEFAULT_AMQP_URL) -> str | None:
    """None when RabbitMQ at ``url`` accepts a login, else why not."""
    import pika  # only when a broker test asks

    try:
        params = pika.URLParameters(url)
        params.connection_attempts, params.socket_timeout = 1, 3
        pika.BlockingConnection(params).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no broker for tests"
        return f"RabbitMQ not usable at {url}: {exc!r}"
    return None


def isolated_routes(delays: tuple[float, ...] = (0.2,), max_attempts: int = 3) -> Routes:
    """The project's routes under a unique prefix, with short retry delays."""
    prefix = f"rabt-test-{uuid.uuid4().hex[:10]}."
    return load_routes().with_prefix(prefix).with_retry(delays, max_attempts)
