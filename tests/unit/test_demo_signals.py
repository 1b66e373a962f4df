"""A stop the operator asks for is not lost where Python swallows exceptions.

``rabt demo`` turns SIGTERM and SIGINT into :class:`Interrupted` in its main
thread. Raised while a finalizer runs (the main thread drops HTTP responses
all the time), Python prints "Exception ignored in: …" and goes on: the demo
once ran every scenario after a SIGTERM and exited 0. These tests make the
signal land inside a finalizer, as it did then.
"""

from __future__ import annotations

import os
import signal
import sys
from types import SimpleNamespace

import pytest

from hub.cli.demo import Interrupted, signals_interrupt
from simulators.demo.runner import run_scenarios
from simulators.demo.scenarios import Scenario


class _SignalledWhenDropped:
    """Sends ``signum`` to this process from its finalizer, so the handler runs (and raises) inside it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        _deliver(self.signum)  # the handler runs, and raises, still inside the finalizer


def _log_with_no_records() -> SimpleNamespace:
    stats = SimpleNamespace(by_status={}, refused=0)
    return SimpleNamespace(log=SimpleNamespace(stats=lambda: stats))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_swallowed_in_a_finalizer_is_raised_at_the_next_check(signum, monkeypatch):
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: swallowed.append(unraisable.exc_type))
    with pytest.raises(Interrupted) as stopped:
        with signals_interrupt() as stop:
            _SignalledWhenDropped(signum)  # dropped at once: the signal lands in its finalizer
            assert swallowed == [Interrupted]  # Python did swallow the first raise
            assert stop.signum == signum
            stop.check()
    assert stopped.value.signum == signum
    assert signal.getsignal(signum) is not signal.SIG_IGN  # the handlers in place before are back


def test_no_signal_no_stop():
    with signals_interrupt() as stop:
        stop.check()
    assert stop.signum is None


def test_the_scenario_after_a_swallowed_signal_does_not_run(monkeypatch):
    monkeypatch.setattr(sys, "unraisablehook", lambda _unraisable: None)
    ran = []

    def first(_ctx) -> str:
        ran.append(1)
        _SignalledWhenDropped(signal.SIGTERM)
        return "done"

    def second(_ctx) -> str:
        ran.append(2)
        return "done"

    scenarios = [Scenario(1, "first", first), Scenario(2, "second", second)]
    with pytest.raises(Interrupted):
        with signals_interrupt() as stop:
            run_scenarios(_log_with_no_records(), scenarios, echo=lambda _line: None, checkpoint=stop.check)
    assert ran == [1]


def test_a_second_signal_while_stopping_does_not_cut_the_clean_up_short():
    cleaned = []
    with pytest.raises(Interrupted) as stopped:
        with signals_interrupt():
            try:
                _deliver(signal.SIGTERM)
            finally:  # as the demo stops its processes: a Ctrl-C now must not leave orphans
                _deliver(signal.SIGINT)
                cleaned.append(True)
    assert stopped.value.signum == signal.SIGTERM
    assert cleaned == [True]


def _deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)
    for _ in range(1000):  # the handler runs between these bytecodes
        pass
