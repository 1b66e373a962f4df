"""Retries with backoff inside one delivery, and circuit breakers per agency service."""

from __future__ import annotations

import time

import pytest

from hub.errors import (
    AgencyFaultError,
    AgencyUnavailableError,
    CircuitOpenError,
    ParseError,
)
from hub.outbound.config import OutboundSettings
from hub.outbound.resilience import Breakers, call_guarded


class Flaky:
    """Fails with ``errors`` in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def unavailable() -> AgencyUnavailableError:
    return AgencyUnavailableError("HTTP 503", agency="police")


def test_transient_failures_are_retried_with_exponential_backoff():
    settings = OutboundSettings(attempts=3, backoff=0.01, breaker_failures=10)
    pauses: list[float] = []
    call = Flaky(unavailable(), unavailable())
    result = call_guarded(call, Breakers().get("p", "s", settings), settings, agency="p", sleep=pauses.append)
    assert result == "answer" and call.calls == 3
    assert pauses == [pytest.approx(0.01), pytest.approx(0.02)]


def test_retries_are_bounded():
    settings = OutboundSettings(attempts=2, backoff=0, breaker_failures=10)
    call = Flaky(*[unavailable() for _ in range(5)])
    with pytest.raises(AgencyUnavailableError):
        call_guarded(call, Breakers().get("p", "s", settings), settings, agency="p", sleep=lambda s: None)
    assert call.calls == 2


@pytest.mark.parametrize("error", [AgencyFaultError("no such person"), ParseError("garbage")])
def test_answers_are_not_retried_and_do_not_count_against_the_circuit(error):
    settings = OutboundSettings(attempts=3, backoff=0, breaker_failures=1)
    breaker = Breakers().get("p", "s", settings)
    for _ in range(3):
        call = Flaky(error)
        with pytest.raises(type(error)):
            call_guarded(call, breaker, settings, agency="p")
        assert call.calls == 1
    assert breaker.current_state == "closed"


def test_circuit_opens_after_consecutive_failures_then_half_opens_after_the_reset_timeout():
    settings = OutboundSettings(attempts=1, backoff=0, breaker_failures=2, breaker_reset=0.3)
    breakers = Breakers()
    breaker = breakers.get("police", "civil-registry", settings)
    for _ in range(2):
        with pytest.raises(AgencyUnavailableError):
            call_guarded(Flaky(unavailable()), breaker, settings, agency="police")
    assert breakers.states() == {"police": "open"}
    call = Flaky()
    with pytest.raises(CircuitOpenError):
        call_guarded(call, breaker, settings, agency="police")
    assert call.calls == 0  # an open circuit does not call at all
    time.sleep(0.35)
    assert call_guarded(call, breaker, settings, agency="police") == "answer"  # the trial call
    assert breakers.states() == {"police": "closed"}


def test_an_open_circuit_stops_the_retries_of_the_delivery():
    settings = OutboundSettings(attempts=5, backoff=0, breaker_failures=2, breaker_reset=60)
    call = Flaky(*[unavailable() for _ in range(5)])
    with pytest.raises(CircuitOpenError):
        call_guarded(call, Breakers().get("p", "s", settings), settings, agency="p")
    assert call.calls == 2


def test_states_are_per_service_and_reported_per_agency_worst_first():
    settings = OutboundSettings(attempts=1, breaker_failures=1, breaker_reset=60)
    breakers = Breakers()
    breakers.get("commerce", "commercial-registry", settings)
    chamber = breakers.get("commerce", "chamber-of-commerce", settings)
    breakers.get("police", "civil-registry", settings)
    with pytest.raises(AgencyUnavailableError):
        call_guarded(Flaky(unavailable()), chamber, settings, agency="commerce")
    assert breakers.service_states() == {"commerce/chamber-of-commerce": "open",
                                         "commerce/commercial-registry": "closed",
                                         "police/civil-registry": "closed"}
    assert breakers.states() == {"commerce": "open", "police": "closed"}
    assert breakers.get("commerce", "chamber-of-commerce", settings) is chamber
    breakers.reset()
    assert breakers.states() == {}
