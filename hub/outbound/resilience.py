"""Retries and circuit breakers around agency calls.

Inside one delivery a transient failure (timeout, refused connection, HTTP
5xx — :class:`~hub.errors.AgencyUnavailableError`) is retried a few times
with exponential backoff (tenacity). Every call goes through the circuit
breaker of its agency service (pybreaker): after ``breaker_failures``
consecutive transient failures the circuit opens and calls fail at once with
:class:`~hub.errors.CircuitOpenError` until ``breaker_reset`` seconds have
passed; then one trial call is let through (half-open) and its outcome closes
or re-opens the circuit. Both errors are recoverable, so the transport
retries the delivery later and finally dead-letters it.

Breakers are kept per *service* (agency and system: the chamber of commerce
being down must not stop commercial-registry look-ups), and
:func:`breaker_states` reports them per agency, the worst state winning, for
the operator console. They live in this process's memory: a consuming worker
registers with :func:`hub.metrics.watch_circuits`, so each worker process
reports its own as ``rabt_circuit_state`` on its ``/metrics``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pybreaker
import tenacity

from hub import metrics
from hub.errors import AgencyUnavailableError, CircuitOpenError
from hub.outbound.config import OutboundSettings

T = TypeVar("T")
_SEVERITY = {"closed": 0, "half-open": 1, "open": 2}


def _not_transient(exc: BaseException) -> bool:
    # Business faults and garbage answers prove the agency is up: they do not count.
    return not isinstance(exc, AgencyUnavailableError)


class Breakers:
    """The circuit breakers of one process, by ``(agency, system)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], pybreaker.CircuitBreaker] = {}

    def get(self, agency: str, system: str, settings: OutboundSettings) -> pybreaker.CircuitBreaker:
        """The breaker of one agency service, created on first use with ``settings``."""
        key = (agency, system)
        with self._lock:
            if key not in self._breakers:
                self._breakers[key] = pybreaker.CircuitBreaker(
                    fail_max=settings.breaker_failures, reset_timeout=settings.breaker_reset,
                    exclude=[_not_transient], name=f"{agency}/{system}", throw_new_error_on_trip=False,
                )
            return self._breakers[key]

    def service_states(self) -> dict[str, str]:
        """``"agency/system"`` → ``closed`` | ``open`` | ``half-open``."""
        with self._lock:
            return {f"{a}/{s}": _state(b) for (a, s), b in sorted(self._breakers.items())}

    def states(self) -> dict[str, str]:
        """Agency → the worst state among its services."""
        return worst_by_agency(self.service_states())

    def close(self, agency: str) -> int:
        """Close every breaker of ``agency`` (an operator's "try again now"); how many there were."""
        with self._lock:
            chosen = [b for (a, _), b in self._breakers.items() if a == agency]
        for breaker in chosen:
            breaker.close()
        return len(chosen)

    def reset(self) -> None:
        """Forget every breaker (tests start afresh)."""
        with self._lock:
            self._breakers.clear()


def _state(breaker: pybreaker.CircuitBreaker) -> str:
    # pybreaker moves an open circuit to half-open when the next call arrives after the reset timeout
    state = breaker.current_state
    return {pybreaker.STATE_OPEN: "open", pybreaker.STATE_HALF_OPEN: "half-open"}.get(state, "closed")


#: the breakers of this process (workers share them unless given their own)
BREAKERS = Breakers()


def breaker_states() -> dict[str, str]:
    """Agency → the worst circuit state of the outbound workers consuming in this process (the console's view).

    An agency whose worker is not running here is absent: its breakers are in another process.
    """
    return worst_by_agency(metrics.watched_circuits())


def worst_by_agency(service_states: dict[str, str]) -> dict[str, str]:
    """``{"agency/system": state}`` → ``{agency: the worst state of its services}``."""
    worst: dict[str, str] = {}
    for key, state in service_states.items():
        agency = key.partition("/")[0]
        if _SEVERITY[state] >= _SEVERITY.get(worst.get(agency, "closed"), 0):
            worst[agency] = state
    return worst


def call_guarded(call: Callable[[], T], breaker: pybreaker.CircuitBreaker, settings: OutboundSettings,
                 *, agency: str, sleep: Callable[[float], object] | None = None) -> T:
    """``call()`` through ``breaker``, retried with backoff while the agency is unavailable."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.attempts),
        wait=tenacity.wait_exponential(multiplier=settings.backoff, max=settings.max_backoff),
        retry=tenacity.retry_if_exception(
            lambda exc: isinstance(exc, AgencyUnavailableError) and not isinstance(exc, CircuitOpenError)),
        reraise=True,
        **({"sleep": sleep} if sleep is not None else {}),
    )
    return retrying(_through_breaker, call, breaker, agency)


def _through_breaker(call: Callable[[], T], breaker: pybreaker.CircuitBreaker, agency: str) -> T:
    try:
        return breaker.call(call)
    except pybreaker.CircuitBreakerError as exc:
        raise CircuitOpenError(
            f"circuit for {breaker.name} is open after {breaker.fail_max} consecutive failures; "
            f"next trial call after {breaker.reset_timeout:g}s", agency=agency) from exc
