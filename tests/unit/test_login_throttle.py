"""The failed-login counts: aging out, and a bound on what guessing many names can make them hold."""

from __future__ import annotations

from hub.console import throttle as module
from hub.console.throttle import LoginThrottle


def test_the_wait_ends_when_the_oldest_failure_ages_out():
    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60.0, clock=lambda: now[0])
    key = ("admin", "10.0.0.1")
    for at in (0.0, 10.0, 20.0):
        now[0] = at
        assert throttle.wait(key) == 0.0
        throttle.failed(key)
    assert throttle.wait(key) == 40.0  # the failure at 0 ages out at 60
    now[0] = 60.0
    assert throttle.wait(key) == 0.0
    throttle.failed(key)
    assert throttle.wait(key) == 10.0  # now the one at 10 is the oldest of three


def test_names_guessed_once_are_forgotten_once_aged_out(monkeypatch):
    monkeypatch.setattr(module, "_MAX_KEYS", 100)
    now = [0.0]
    throttle = LoginThrottle(limit=5, window=60.0, clock=lambda: now[0])
    for n in range(100):
        throttle.failed((f"name-{n}", "10.0.0.1"))
        assert throttle.wait((f"never-failed-{n}", "10.0.0.1")) == 0.0  # asking keeps nothing
    assert len(throttle._failures) == 100
    now[0] = 61.0
    throttle.failed(("one-more", "10.0.0.1"))
    assert len(throttle._failures) == 1


def test_checks_in_flight_count_against_the_limit_until_settled():
    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60.0, clock=lambda: now[0])
    key = ("admin", "10.0.0.1")
    assert [throttle.reserve(key) for _ in range(4)] == [0.0, 0.0, 0.0, module._IN_FLIGHT_WAIT]
    throttle.succeeded(key)  # one check passed: its try is free again
    assert throttle.reserve(key) == 0.0
    for _ in range(3):
        throttle.failed(key)
    assert throttle.reserve(key) == 60.0  # three failures: the window, not the in-flight wait
    assert throttle._in_flight == {}  # settled tries leave nothing behind
    now[0] = 60.0
    assert throttle.reserve(key) == 0.0 and throttle.wait(key) == 0.0
