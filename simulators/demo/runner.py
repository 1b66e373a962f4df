"""Runs the scenarios against a started stack, showing progress and a summary table."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulators.demo.context import DemoContext
from simulators.demo.scenarios import Scenario, ScenarioFailed


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    passed: bool
    detail: str
    messages: int
    seconds: float


def _message_count(ctx: DemoContext) -> int:
    stats = ctx.log.stats()
    return sum(stats.by_status.values()) + stats.refused


def run_scenarios(ctx: DemoContext, scenarios: Sequence[Scenario], echo: Callable[[str], None],
                  checkpoint: Callable[[], None] = lambda: None) -> list[Outcome]:
    """Run each scenario once, in order; a failure is recorded and the next one still runs.

    ``checkpoint`` runs before each scenario; what it raises (a stop the
    operator asked for) ends the run.
    """
    outcomes = []
    for scenario in scenarios:
        checkpoint()
        echo(f"[{scenario.number}/{len(scenarios)}] {scenario.title} …")
        before, started = _message_count(ctx), time.monotonic()
        try:
            detail, passed = scenario.run(ctx), True
        except ScenarioFailed as exc:
            detail, passed = str(exc), False
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
            detail, passed = f"{type(exc).__name__}: {exc}", False
        outcome = Outcome(scenario, passed, detail, _message_count(ctx) - before, time.monotonic() - started)
        echo(f"      {'ok  ' if passed else 'FAIL'} {detail}")
        outcomes.append(outcome)
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    """The summary: scenario, result, messages, time."""
    width = max(len(o.scenario.title) for o in outcomes) + 4
    lines = [f"{'scenario':<{width}}{'result':<8}{'messages':>9}{'time':>9}", "-" * (width + 26)]
    for o in outcomes:
        lines.append(f"{o.scenario.number}. {o.scenario.title:<{width - 3}}{'pass' if o.passed else 'FAIL':<8}"
                     f"{o.messages:>9}{o.seconds:>8.1f}s")
    passed = sum(o.passed for o in outcomes)
    lines.append("-" * (width + 26))
    lines.append(f"{passed} of {len(outcomes)} scenarios passed, {sum(o.messages for o in outcomes)} messages, "
                 f"{sum(o.seconds for o in outcomes):.1f}s")
    return "\n".join(lines)
