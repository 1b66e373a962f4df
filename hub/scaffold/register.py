"""Registering a scaffolded agency: three small edits to data files, never to ``hub/``.

Pure text in, text out (the caller writes), each result re-read to prove it:

* ``pyproject.toml`` — the entry point ``<name> = "adapters.<name>:ADAPTER"`` in
  ``[project.entry-points."rabt.adapters"]``, the group :mod:`hub.registry` reads.
  Entry points live in the installed metadata, so ``pip install -e .`` makes it
  effective — the same way an adapter shipped as its own distribution registers;
* ``adapters/access.toml`` — what the new agency may send (the operator owns this file);
* ``simulators/registry.py`` — a ``SimulatorEntry`` on the next free port, so
  ``rabt simulate <name>`` runs it.
"""

from __future__ import annotations

import re
import tomllib

from hub.errors import ConfigError

ENTRY_POINT_SECTION = '[project.entry-points."rabt.adapters"]'
_SIMULATOR_ENTRY = re.compile(r'^(?P<indent>\s*)SimulatorEntry\("(?P<name>[^"]+)", "[^"]+", (?P<port>\d+), (?P<offset>\d+)\),\s*$')


def entry_points_of(pyproject: str) -> dict[str, str]:
    """The ``rabt.adapters`` entry points a pyproject.toml declares."""
    try:
        data = tomllib.loads(pyproject)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"pyproject.toml does not parse: {exc}") from exc
    return dict(data.get("project", {}).get("entry-points", {}).get("rabt.adapters", {}))


def add_entry_point(pyproject: str, name: str) -> str:
    """``pyproject`` with ``name`` registered as an adapter (a line added at the end of the group)."""
    line = f'{name} = "adapters.{name}:ADAPTER"'
    lines = pyproject.splitlines()
    if ENTRY_POINT_SECTION not in (text.strip() for text in lines):
        updated = pyproject.rstrip("\n") + f"\n\n{ENTRY_POINT_SECTION}\n{line}\n"
    else:
        start = next(i for i, text in enumerate(lines) if text.strip() == ENTRY_POINT_SECTION)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1  # after the group's last entry, before the blank line that ends it
        updated = "\n".join([*lines[:end], line, *lines[end:]]) + "\n"
    if entry_points_of(updated).get(name) != f"adapters.{name}:ADAPTER":
        raise ConfigError(f"could not register {name!r} in pyproject.toml")
    return updated


def add_access(access: str, name: str, message_types: tuple[str, ...], title: str) -> str:
    """``access.toml`` with a ``[name]`` table allowing ``message_types``."""
    if name in _toml(access, "access.toml"):
        raise ConfigError(f"access.toml already has a [{name}] table")
    quoted = ", ".join(f'"{t}"' for t in message_types)
    block = (f"\n# {title}: what `rabt adapter new {name}` scaffolded; review before production.\n"
             f"[{name}]\nmay_send = [{quoted}]\n")
    updated = access.rstrip("\n") + "\n" + block
    if _toml(updated, "access.toml").get(name, {}).get("may_send") != list(message_types):
        raise ConfigError(f"could not add [{name}] to access.toml")
    return updated


def add_simulator(registry: str, name: str) -> str:
    """``simulators/registry.py`` with a SimulatorEntry for ``name`` after the last one."""
    lines = registry.splitlines()
    entries = [(i, match) for i, text in enumerate(lines) if (match := _SIMULATOR_ENTRY.match(text))]
    if not entries:
        raise ConfigError("simulators/registry.py has no SimulatorEntry(...) lines to add the simulator after")
    if any(match["name"] == name for _, match in entries):
        raise ConfigError(f"simulators/registry.py already has a simulator named {name!r}")
    last, match = entries[-1]
    port = max(int(m["port"]) for _, m in entries) + 1
    offset = max(int(m["offset"]) for _, m in entries) + 1
    line = f'{match["indent"]}SimulatorEntry("{name}", "simulators.{name}.app:create_app", {port}, {offset}),'
    return "\n".join([*lines[:last + 1], line, *lines[last + 1:]]) + "\n"


def _toml(text: str, what: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} does not parse: {exc}") from exc
