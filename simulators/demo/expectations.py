"""How a scenario passes or fails: a check that raises :class:`ScenarioFailed`, and a patient poll.

A scenario returns a one-line result or raises :class:`ScenarioFailed` saying
what the system did instead; the runner records either and goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ScenarioFailed(Exception):
    """The system did not do what the scenario expects; the message says what it did instead."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ScenarioFailed(message)


def wait_for(what: str, probe: Callable[[], object], timeout: float = 30.0, interval: float = 0.25):
    """Poll ``probe`` until it returns something truthy; ScenarioFailed naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
