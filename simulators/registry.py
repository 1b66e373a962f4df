"""Agency simulators (and the time-stamping authority) by name: the app factory to import and the port it listens on.

Factories are "module:attribute" strings resolved on use, so listing the
simulators imports none of them (and none of Flask's apps are built).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass

from flask import Flask

from hub.errors import InputError


@dataclass(frozen=True)
class SimulatorEntry:
    """Where one agency simulator comes from and where it listens by default."""

    name: str
    factory: str
    """``module:attribute`` of ``create_app(config=None) -> Flask``."""
    default_port: int
    """Port used by ``rabt simulate`` without ``--port-base``."""
    offset: int
    """Position in the port block: ``--port-base N`` puts this simulator on N + offset."""


SIMULATORS: dict[str, SimulatorEntry] = {
    entry.name: entry
    for entry in (
        SimulatorEntry("police", "simulators.police.app:create_app", 8101, 1),
        SimulatorEntry("commerce", "simulators.commerce.app:create_app", 8102, 2),
        SimulatorEntry("insurance", "simulators.insurance.app:create_app", 8103, 3),
        SimulatorEntry("courts", "simulators.courts.app:create_app", 8104, 4),
        SimulatorEntry("municipality", "simulators.municipality.app:create_app", 8105, 5),
        SimulatorEntry("tsa", "simulators.tsa.app:create_app", 8106, 6),
    )
}


def entry(name: str) -> SimulatorEntry:
    """The registry entry for ``name``; an unknown name is an error with a suggestion."""
    try:
        return SIMULATORS[name]
    except KeyError:
        close = difflib.get_close_matches(name, SIMULATORS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"no simulator named {name!r} (known: {', '.join(SIMULATORS)}){hint}") from None


def create(name: str, config: dict | None = None) -> Flask:
    """Build the named simulator's Flask app."""
    module_name, _, attribute = entry(name).factory.partition(":")
    return getattr(importlib.import_module(module_name), attribute)(config)
