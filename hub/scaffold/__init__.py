"""``rabt adapter new NAME``: a new agency from templates, registered so the hub finds it by name.

``templates/`` is the tree a scaffold produces: ``__name__`` in a path and
``{{name}}``, ``{{Name}}``, ``{{NAME}}``, ``{{title}}``, ``{{namespace}}``,
``{{prefix}}`` in a file are replaced, and the ``.tmpl`` suffix is dropped (so
template tests are never collected and template modules never imported).
Under the project root it writes::

    adapters/<name>/                    the Adapter declaration (one inbound SOAP operation)
    mappings/<name>/                    the sample mapping and the receipt mapping
    schemas/agencies/<name>/            the gateway WSDL and the agency's XSD
    simulators/<name>/                  the simulator (Flask factory) and its message builder
    tests/samples/<name>/               a sample payload, which the adapter contract suite runs
    tests/unit/test_<name>_adapter.py   tests that pass at once

and registers it in data files (:mod:`hub.scaffold.register`), never in
``hub/``. Everything is prepared and checked before the first byte is
written; files that exist are never overwritten.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from lxml import etree

from hub.errors import ConfigError, InputError
from hub.scaffold import register

#: the template tree, shipped as package data of ``hub``
TEMPLATES = Path(str(resources.files("hub.scaffold") / "templates"))
#: the default access rights, shipped beside the adapters (relative to the project root)
ACCESS_FILE = "adapters/access.toml"
#: canonical types the scaffolded exchange produces (granted in access.toml)
MESSAGE_TYPES = ("WorkerDeparture",)
#: parties that exist without an adapter package
RESERVED = frozenset({"hub", "licensing", "adapters", "simulators", "tests", "scaffold"})
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_PLACEHOLDER = re.compile(r"\{\{(name|Name|NAME|title|namespace|prefix)\}\}")


@dataclass
class Scaffold:
    """What ``rabt adapter new`` will write (``files``) and which data files it edits (``edits``)."""

    root: Path
    name: str
    files: dict[Path, str] = field(default_factory=dict)
    edits: dict[Path, str] = field(default_factory=dict)


def check_name(name: str) -> str:
    """A new agency's name: a lower-case Python identifier (it names a package and a PKI party)."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise InputError(f"agency name {name!r} is not a Python identifier (it names the package adapters.{name})")
    if not _NAME.match(name):
        raise InputError(f"agency name {name!r} must be 2-32 characters of a-z, 0-9 and '_', starting with a letter")
    if name in RESERVED:
        raise InputError(f"agency name {name!r} is reserved")
    return name


def check_title(title: str) -> str:
    """A title goes into Python strings and XML comments: one plain line."""
    if not title.strip() or not title.isprintable() or any(bad in title for bad in ('"', "\\", "<", ">", "&", "--")):
        raise InputError(f"title {title!r} must be one printable line without quotes, backslashes, <, >, & or --")
    return title.strip()


def values(name: str, title: str | None) -> dict[str, str]:
    """The placeholder values for agency ``name``."""
    return {
        "name": name,
        "Name": "".join(part.capitalize() for part in name.split("_")),
        "NAME": name.upper().replace("_", "-"),
        "title": check_title(title) if title is not None else name.replace("_", " ").capitalize(),
        "namespace": f"urn:agency:{name}:hub:1",
        "prefix": "ag",
    }


def render(text: str, placeholders: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: placeholders[match.group(1)], text)


def plan(root: Path, name: str, title: str | None = None) -> Scaffold:
    """Everything to write for ``name`` under ``root``; InputError or ConfigError if it cannot be done."""
    root = Path(root).resolve()
    check_name(name)
    _check_project(root)
    _check_unused(root, name)
    placeholders = values(name, title)
    scaffold = Scaffold(root, name)
    for template in sorted(TEMPLATES.rglob("*.tmpl")):
        relative = template.relative_to(TEMPLATES).with_suffix("")
        target = root / str(relative).replace("__name__", name)
        scaffold.files[target] = _checked(target, render(template.read_text(encoding="utf-8"), placeholders))
    existing = [str(path.relative_to(root)) for path in scaffold.files if path.exists()]
    if existing:
        raise InputError(f"{name}: would overwrite {', '.join(existing)}")
    scaffold.edits = _registrations(root, name, placeholders["title"])
    return scaffold


def write(scaffold: Scaffold) -> list[Path]:
    """Create the files (never replacing one), then apply the registrations; the paths written."""
    for path, text in scaffold.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as stream:
            stream.write(text)
    for path, text in scaffold.edits.items():
        temporary = path.with_name(f".{path.name}.rabt-tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    return [*scaffold.files, *scaffold.edits]


def scaffold_adapter(root: Path, name: str, title: str | None = None) -> Scaffold:
    """Plan and write a new agency; the plan tells what was written and edited."""
    planned = plan(root, name, title)
    write(planned)
    return planned


def _checked(target: Path, text: str) -> str:
    """A rendered file must still be well-formed XML or valid Python."""
    try:
        if target.suffix == ".py":
            compile(text, str(target), "exec")
        elif target.suffix in (".xml", ".xsd", ".wsdl", ".xsl"):
            etree.fromstring(text.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except (SyntaxError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"template for {target.name} renders into a broken file: {exc}") from exc
    return text


def _check_project(root: Path) -> None:
    needed = ("pyproject.toml", ACCESS_FILE, "adapters", "mappings", "schemas/agencies", "simulators/registry.py")
    missing = [part for part in needed if not (root / part).exists()]
    if missing:
        raise ConfigError(f"{root} is not a Rabt project root (missing {', '.join(missing)})")


def _check_unused(root: Path, name: str) -> None:
    taken = [folder for folder in (f"adapters/{name}", f"mappings/{name}", f"schemas/agencies/{name}",
                                   f"simulators/{name}", f"tests/samples/{name}") if (root / folder).exists()]
    if taken:
        raise InputError(f"agency {name!r} exists already: {', '.join(taken)}")
    if name in register.entry_points_of((root / "pyproject.toml").read_text(encoding="utf-8")):
        raise InputError(f"agency {name!r} is registered already in pyproject.toml")


def _registrations(root: Path, name: str, title: str) -> dict[Path, str]:
    pyproject, access = root / "pyproject.toml", root / ACCESS_FILE
    simulators = root / "simulators" / "registry.py"
    return {
        pyproject: register.add_entry_point(pyproject.read_text(encoding="utf-8"), name),
        access: register.add_access(access.read_text(encoding="utf-8"), name, MESSAGE_TYPES, title),
        simulators: register.add_simulator(simulators.read_text(encoding="utf-8"), name),
    }
