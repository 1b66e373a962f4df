"""Start the stack, run the scenarios, print the table; the exit status says whether all passed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy.engine import make_url

from hub.config import Settings
from hub.errors import ConfigError
from hub.messagelog import open_message_log
from hub.redact import redact_url
from simulators.demo import home as demo_folder
from simulators.demo.context import DemoContext
from simulators.demo.runner import Outcome, run_scenarios, table
from simulators.demo.scenarios import SCENARIOS
from simulators.demo.stack import Stack
from simulators.population import Population, PopulationSpec


def require_empty_log(url: str) -> None:
    """ConfigError unless the message log at ``url`` holds nothing yet.

    The scenarios drop the same wage and court files on every run: in a log that
    has them from an earlier run they are (rightly) duplicates, and nothing flows.
    """
    with open_message_log(url) as log:
        stats = log.stats()
    held = sum(stats.by_status.values()) + stats.refused
    if held:
        where = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(f"the demo needs an empty message log, and {where} holds {held} record(s) "
                          "from an earlier run: point RABT_DATABASE_URL at a new database")


@contextmanager
def running_system(settings: Settings, *, seed: int = 2026, workers: int = 2000, wage_employers: int = 300,
                   queue_prefix: str = "rabt-demo.", split_roles: bool = False,
                   echo: Callable[[str], None] = print) -> Iterator[DemoContext]:
    """Start the stack from clean state; the scenarios' context while it runs; every process stopped after.

    ``settings.home`` is the demo's own folder: claimed (marked) if new or
    empty, refused if it holds files the demo did not make, cleaned otherwise.
    ``context.stop_codes`` holds the processes' exit codes once the block is left.
    """
    demo_folder.claim(settings.home)
    demo_folder.refuse_foreign_broker(settings, settings.home)
    demo_folder.fresh_state(settings.home)
    require_empty_log(settings.effective_database_url)
    started = time.monotonic()
    echo(f"starting simulators, hub and licensing (state in {settings.home}, "
         f"broker {redact_url(settings.effective_broker_url)})")
    stack = Stack(settings.home, settings.effective_broker_url, seed=seed, workers=workers,
                  database_url=settings.database_url, queue_prefix=queue_prefix, split_roles=split_roles)
    stack.remove_topology()  # the previous run's queues, like its databases: every run starts clean
    context = None
    try:
        stack.start()
        echo(f"  up in {time.monotonic() - started:.1f}s: gateway {stack.urls['gateway']}, "
             f"console {stack.urls['console']}, licensing {stack.urls['licensing']}")
        population = Population(PopulationSpec.scaled(workers, seed=seed))
        context = DemoContext(stack, settings, population, open_message_log(settings.effective_database_url),
                              wage_employers=wage_employers)
        yield context
    finally:
        if context is not None:
            context.close()
        codes = stack.stop()
        if context is not None:
            context.stop_codes = codes


def run_demo(settings: Settings, *, numbers: Sequence[int] = (), seed: int = 2026, workers: int = 2000,
             wage_employers: int = 300, echo: Callable[[str], None] = print,
             checkpoint: Callable[[], None] = lambda: None) -> list[Outcome]:
    """The main job: everything a new user needs to see the hub work, in about a minute.

    It runs in ``$RABT_HOME/demo`` and touches nothing outside it (see
    :mod:`simulators.demo.home`); unknown scenario numbers are refused first.
    ``checkpoint`` runs before each scenario: what it raises stops the demo.
    """
    unknown = sorted(set(numbers) - {s.number for s in SCENARIOS})
    if unknown:
        raise ConfigError(f"no scenario {', '.join(map(str, unknown))}: choose from 1 to {len(SCENARIOS)} "
                          "(rabt demo --scenario N)")
    demo_folder.refuse_hub_home(settings.home)
    home = demo_folder.demo_home(settings.home)
    settings = replace(settings, home=home, routes_file=home / "routes.toml")
    with running_system(settings, seed=seed, workers=workers, wage_employers=wage_employers, echo=echo) as context:
        chosen = [s for s in SCENARIOS if not numbers or s.number in numbers]
        outcomes = run_scenarios(context, chosen, echo, checkpoint)
    echo("")
    echo(table(outcomes))
    unclean = {name: code for name, code in context.stop_codes.items() if code not in (0, -15)}
    if unclean:
        echo(f"processes that did not stop cleanly: {unclean} (logs in {settings.home / 'logs'})")
    echo(f"message log kept in {redact_url(settings.effective_database_url)}; to look at it: "
         f"RABT_HOME={settings.home} RABT_ROUTES_FILE={settings.routes_file} rabt console")
    return outcomes
