"""Adapters are found by name through entry points (group ``rabt.adapters``).

``hub`` never imports an adapter package directly: a new agency is a new
package that declares ``[project.entry-points."rabt.adapters"]``, and the hub
discovers it here, loading it only when it is used.
"""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from hub.errors import ConfigError

GROUP = "rabt.adapters"


def adapter_names() -> list[str]:
    """Names of every installed adapter, without importing any of them."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load_adapter(name: str):
    """Import and return the adapter registered under ``name``."""
    matches = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not matches:
        hint = difflib.get_close_matches(name, adapter_names(), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ConfigError(f"no adapter named {name!r}{suggestion}", agency=name)
    try:
        adapter = matches[0].load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"adapter {name!r} is registered ({matches[0].value}) but cannot be loaded: {exc}",
                          agency=name) from exc
    if getattr(adapter, "name", None) != name:
        raise ConfigError(f"entry point {name!r} does not name an Adapter called {name!r}", agency=name)
    return adapter
