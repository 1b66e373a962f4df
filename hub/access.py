"""Access rights, kept as data in ``access.toml``: who may send which message type.

The operator owns this file (``RABT_ACCESS_FILE``; the default ships with
the adapters); an agency that is not listed may send nothing,
and a message type not listed for it is refused with a SOAP Fault or a
rejection report naming both.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from hub import resources
from hub.errors import ConfigError


def __getattr__(name: str) -> Path:
    # DEFAULT_ACCESS_FILE is looked up on use: the shipped default comes from an entry point.
    if name == "DEFAULT_ACCESS_FILE":
        return resources.default_file("access")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class AccessRights:
    """``may_send[agency]`` is the set of canonical types that agency may send."""

    may_send_types: dict[str, frozenset[str]]

    @classmethod
    def load(cls, path: Path | None = None) -> AccessRights:
        """Read ``path`` (``RABT_ACCESS_FILE``), or the default shipped with the adapters."""
        path = Path(path) if path else resources.default_file("access")
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read access rights {path}: {exc}") from exc
        rights = {}
        for agency, entry in data.items():
            types = entry.get("may_send") if isinstance(entry, dict) else None
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise ConfigError(f"{path}: [{agency}] needs may_send = [\"MessageType\", ...]")
            rights[agency] = frozenset(types)
        return cls(rights)

    def __call__(self, agency: str, message_type: str) -> bool:
        """The pipeline's access policy."""
        return message_type in self.may_send_types.get(agency, frozenset())
