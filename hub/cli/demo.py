"""``rabt demo``: the main job — the whole system on this machine, the licensing story run through it.

A development tool like ``rabt simulate``: the simulators it drives live
outside ``hub``, so they are imported inside the command only.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from hub.config import Settings


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
    """Start simulators, hub and licensing; run the scenarios; exit 1 if any fails."""
    from simulators.demo.main import run_demo

    if broker:
        settings = replace(settings, broker_url=broker)
    outcomes = run_demo(settings, numbers=numbers, seed=seed, workers=workers, wage_employers=wage_employers,
                        echo=lambda line: click.echo(line))
    if not all(o.passed for o in outcomes):
        sys.exit(1)
