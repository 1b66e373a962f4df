"""``rabt demo``: the main job — the whole system on this machine, the licensing story run through it.

A development tool like ``rabt simulate``: the simulators it drives live
outside ``hub``, so they are imported inside the command only. It keeps its
state in ``$RABT_HOME/demo`` and never touches another hub's files.

SIGTERM and Ctrl-C stop the demo the same way: the signal becomes
:class:`Interrupted` in the main thread, the stack's ``finally`` stops every
process the demo started (each runs in a process group of its own, so their
children go too), and the command exits 128 + the signal's number.

Python swallows an exception raised while a finalizer runs ("Exception
ignored in: …"), and the demo's main thread drops HTTP responses all the
time: a signal landing there would be lost, and the demo, ignoring further
signals, would run to the end and exit 0. So the signal is also remembered,
and raised again before the next scenario and once the scenarios are over.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import click

from hub.config import Settings


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived; unwinds through every ``finally`` like Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopRequest:
    """The first SIGTERM or SIGINT received, for :meth:`check` to raise where it could not land."""

    signum: int | None = None

    def check(self) -> None:
        """:class:`Interrupted` if a signal arrived (its first raise may have been swallowed)."""
        if self.signum is not None:
            raise Interrupted(self.signum)


@contextmanager
def signals_interrupt() -> Iterator[StopRequest]:
    """SIGTERM and SIGINT raise :class:`Interrupted` once; further ones are ignored while stopping."""
    stopping = (signal.SIGTERM, signal.SIGINT)
    request = StopRequest()

    def interrupt(signum: int, _frame) -> None:
        for each in stopping:  # a second Ctrl-C must not cut the clean-up short and leave orphans
            signal.signal(each, signal.SIG_IGN)
        request.signum = signum
        raise Interrupted(signum)

    previous = {each: signal.signal(each, interrupt) for each in stopping}
    try:
        yield request
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


@click.command()
@click.option("--broker", help="Transport URL (default: RABT_BROKER_URL, else the embedded SQLite broker).")
@click.option("--scenario", "numbers", type=int, multiple=True, help="Run only these scenarios (repeatable).")
@click.option("--seed", type=int, default=2026, show_default=True, help="Population seed.")
@click.option("--workers", type=int, default=2000, show_default=True, help="Population size.")
@click.option("--employers", "wage_employers", type=int, default=300, show_default=True,
              help="Employers whose wage files the central bank drops.")
@click.pass_obj
def demo(settings: Settings, broker: str | None, numbers: tuple[int, ...], seed: int, workers: int,
         wage_employers: int) -> None:
    """Start simulators, hub and licensing in $RABT_HOME/demo; run the scenarios; exit 1 if any fails."""
    from simulators.demo.main import run_demo

    if broker:
        settings = replace(settings, broker_url=broker)
    try:
        with signals_interrupt() as stop:
            outcomes = run_demo(settings, numbers=numbers, seed=seed, workers=workers,
                                wage_employers=wage_employers, echo=lambda line: click.echo(line),
                                checkpoint=stop.check)
            stop.check()
    except Interrupted as stopped:
        click.echo(f"rabt demo: {stopped} received; every process it started has been stopped", err=True)
        sys.exit(128 + stopped.signum)
    if not all(o.passed for o in outcomes):
        sys.exit(1)
