"""Access rights, kept as data in ``access.toml``: who may send which message type, and receive which fields.

The operator owns this file (``RABT_ACCESS_FILE``; the default ships with
the adapters); an agency that is not listed may send nothing,
and a message type not listed for it is refused with a SOAP Fault or a
rejection report naming both. ``fields.<MessageType> = [...]`` under a
party limits what it receives of that type on every road out of the hub (see
:mod:`hub.projection`); each path is checked against the canonical schema when
the file is loaded, so a typo or a required field withheld stops the hub with
an error naming the entry instead of sending nothing, or everything.

``default_basis = "..."`` and ``basis.<MessageType> = "..."`` under an agency
name the legal basis on which it sends each type. The pipeline records the
basis in force with every message it accepts (in the message's chained
acceptance record), so the disclosure ledger (:mod:`hub.messagelog.ledger`)
shows the basis of the day even after this file changes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hub import canonical, resources
from hub.errors import ConfigError
from hub.projection import Projection


def __getattr__(name: str) -> Path:
    # DEFAULT_ACCESS_FILE is looked up on use: the shipped default comes from an entry point.
    if name == "DEFAULT_ACCESS_FILE":
        return resources.default_file("access")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class AccessRights:
    """``may_send[agency]`` is the set of canonical types that agency may send."""

    may_send_types: dict[str, frozenset[str]]
    projections: dict[tuple[str, str], Projection] = field(default_factory=dict)
    """``(party, message type)`` → the fields that party may receive of that type."""

    bases: dict[tuple[str, str], str] = field(default_factory=dict)
    """``(agency, message type)`` → the legal basis on which the agency sends that type."""

    default_bases: dict[str, str] = field(default_factory=dict)
    """agency → the legal basis of the types it sends that have none of their own."""

    @classmethod
    def load(cls, path: Path | None = None) -> AccessRights:
        """Read ``path`` (``RABT_ACCESS_FILE``), or the default shipped with the adapters."""
        path = Path(path) if path else resources.default_file("access")
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read access rights {path}: {exc}") from exc
        rights, projections, bases, defaults = {}, {}, {}, {}
        for agency, entry in data.items():
            types = entry.get("may_send") if isinstance(entry, dict) else None
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise ConfigError(f"{path}: [{agency}] needs may_send = [\"MessageType\", ...]")
            rights[agency] = frozenset(types)
            projections |= _field_rights(path, agency, entry.get("fields", {}))
            bases |= _bases(path, agency, rights[agency], entry.get("basis", {}))
            if "default_basis" in entry:
                defaults[agency] = _basis_text(path, f"[{agency}] default_basis", entry["default_basis"])
        return cls(rights, projections, bases, defaults)

    def __call__(self, agency: str, message_type: str) -> bool:
        """The pipeline's access policy."""
        return message_type in self.may_send_types.get(agency, frozenset())

    def projection(self, party: str, message_type: str) -> Projection | None:
        """The pipeline's projection policy: what ``party`` may receive of ``message_type`` (None: all of it)."""
        return self.projections.get((party, message_type))

    def basis(self, agency: str, message_type: str) -> str | None:
        """The pipeline's basis policy: the legal basis on which ``agency`` sends ``message_type`` (None: none)."""
        return self.bases.get((agency, message_type)) or self.default_bases.get(agency)


def _field_rights(path: Path, party: str, fields: object) -> dict[tuple[str, str], Projection]:
    if not isinstance(fields, dict):
        raise ConfigError(f"{path}: [{party}] fields must be a table: fields.MessageType = [\"Field\", ...]")
    try:
        projections = {(party, kind): Projection.parse(party, kind, granted) for kind, granted in fields.items()}
        for projection in projections.values():
            projection.check(_schema_fields(party, projection.message_type))
        return projections
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.reason}") from exc


def _schema_fields(party: str, message_type: str) -> dict[str, bool]:
    """The element paths of ``message_type`` in the canonical XSD; ConfigError naming the entry if no such type."""
    try:
        return canonical.message_fields(message_type)
    except ConfigError as exc:
        raise ConfigError(f"[{party}] fields.{message_type}: {exc.reason}") from exc


def _bases(path: Path, agency: str, may_send: frozenset[str], table: object) -> dict[tuple[str, str], str]:
    """``basis.<MessageType> = "..."`` of one agency, each type one it may send."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{agency}] basis must be a table: basis.MessageType = \"law, article\"")
    for kind in table:
        if kind not in may_send:
            raise ConfigError(f"{path}: [{agency}] basis.{kind} names a message type {agency} may not send; "
                              f"add it to may_send or remove the basis")
    return {(agency, kind): _basis_text(path, f"[{agency}] basis.{kind}", text) for kind, text in table.items()}


def _basis_text(path: Path, where: str, text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{path}: {where} must be non-empty text naming the law and article")
    return text.strip()
