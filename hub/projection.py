"""Data minimised per consumer: a party receives the canonical fields it is granted, and no others.

``access.toml`` may grant a party only some fields of a message type::

    [municipality]
    may_send = ["WorkerRecordQuery"]
    fields.WorkerRecord = ["NameAr", "NameEn", "CivilNumber", "Nationality", "Profession"]

Each entry names a child of the message element by local name, or a small
path of local names (``"Worker/Name"``). A granted element is kept whole, the
elements above it are kept as containers, and every other element is removed.
Every road out projects through :meth:`hub.pipeline.Pipeline.for_party` before
the hub signs for that party or calls it (a routed message, an answer, a
query or notification an outbound worker makes, each subscriber's copy), so a
field the party may not have is neither in the signed bytes nor anywhere else
that leaves the hub. A message type with no ``fields`` entry goes out whole.
:meth:`Projection.check` holds the rights against the canonical schema when
access.toml is loaded; :meth:`Projected.describe` is the ``projected`` record
the message log chains, read back for the console by :func:`read_description`.

The hub knows no agency and no message type here: the projection is data.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from hub.errors import ConfigError

_STEP = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Projected:
    """A projected message body and what the projection took out of it."""

    body: etree._Element
    party: str
    message_type: str
    sent: tuple[str, ...]
    """The granted paths (what the party may receive)."""

    withheld: tuple[str, ...]
    """Paths of the elements removed, each once, in document order."""

    def describe(self) -> str:
        """One line for the message log: which projection was sent to whom (read back by :func:`read_description`)."""
        withheld = ", ".join(self.withheld) or "nothing"
        return (f"projection {self.party}/{self.message_type}: sent {', '.join(self.sent)}; "
                f"withheld {withheld}")


_DESCRIPTION = re.compile(r"^projection (?P<party>[^/]+)/(?P<type>[^:]+): sent (?P<sent>.*?); withheld (?P<withheld>.*)$")


def read_description(line: str) -> dict | None:
    """``{"party", "message_type", "sent", "withheld"}`` from a :meth:`Projected.describe` line; None if not one."""
    match = _DESCRIPTION.match(line or "")
    if match is None:
        return None
    withheld = match["withheld"]
    return {"party": match["party"], "message_type": match["type"], "sent": match["sent"].split(", "),
            "withheld": [] if withheld == "nothing" else withheld.split(", ")}


@dataclass(frozen=True)
class Projection:
    """The fields of ``message_type`` that ``party`` may receive."""

    party: str
    message_type: str
    granted: tuple[str, ...]

    @classmethod
    def parse(cls, party: str, message_type: str, granted: object) -> Projection:
        """From an ``access.toml`` entry; a ConfigError naming the entry when it is not a list of paths."""
        where = f"[{party}] fields.{message_type}"
        if not isinstance(granted, list) or not granted or not all(isinstance(p, str) for p in granted):
            raise ConfigError(f"{where} must be a non-empty list of element names or paths")
        for path in granted:
            if not all(_STEP.match(step) for step in path.split("/")):
                raise ConfigError(f"{where}: {path!r} is not an element name or a path like \"Worker/Name\"")
        return cls(party, message_type, tuple(granted))

    def check(self, fields: dict[str, bool]) -> None:
        """ConfigError unless every granted path is in ``fields`` and every withheld one may be left out.

        ``fields`` is the message type's element paths from the canonical XSD,
        each with whether a valid message may leave it out
        (:func:`hub.canonical.message_fields`). Only optional elements may be
        withheld, so the party receives a message valid against the very schema
        it reads (no looser variant of it): a typo cannot silently send nothing
        or everything, and a required field cannot be taken away from it.
        """
        where = f"[{self.party}] fields.{self.message_type}"
        for path in self.granted:
            if path not in fields:
                raise ConfigError(f"{where}: {path!r} is not an element of {self.message_type} "
                                  f"in the canonical schema")
        granted = [tuple(path.split("/")) for path in self.granted]
        for path, optional in fields.items():
            steps = tuple(path.split("/"))
            if not optional and _kept(steps[:-1], granted) and not _kept(steps, granted):
                raise ConfigError(f"{where} withholds {path}, which the canonical schema requires: "
                                  f"grant it (or only optional elements may be withheld)")

    def apply(self, body: etree._Element) -> Projected:
        """A copy of ``body`` holding only the granted fields (``body`` itself is left as it was)."""
        projected = copy.deepcopy(body)
        granted = [tuple(path.split("/")) for path in self.granted]
        withheld: dict[str, None] = {}
        _prune(projected, (), granted, withheld)
        return Projected(projected, self.party, self.message_type, self.granted, tuple(withheld))


def _kept(path: tuple[str, ...], granted: list[tuple[str, ...]]) -> bool:
    """Whether the element at ``path`` stays: granted, inside a granted one, or holding one (the root does)."""
    return any(path[:len(g)] == g or g[:len(path)] == path for g in granted)


def _prune(element: etree._Element, path: tuple[str, ...], granted: list[tuple[str, ...]],
           withheld: dict[str, None]) -> None:
    for child in list(element):
        if not isinstance(child.tag, str):  # a comment or processing instruction carries no field
            element.remove(child)
            continue
        child_path = (*path, etree.QName(child).localname)
        if any(child_path[:len(g)] == g for g in granted):
            continue  # granted, or inside a granted element: kept whole
        if any(g[:len(child_path)] == child_path for g in granted):
            _prune(child, child_path, granted, withheld)  # a container of something granted
            continue
        withheld["/".join(child_path)] = None
        element.remove(child)  # lxml takes the tail text along


#: ``projection(party, message_type)``: what the party may receive of that type, None for everything
ProjectionPolicy = Callable[[str, str], "Projection | None"]


def send_everything(party: str, message_type: str) -> None:
    """The policy with no field rights: every party receives whole messages."""
    return None
