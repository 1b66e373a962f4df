"""The data files the hub ships, found as package resources so a built wheel works.

The repository keeps ``schemas/`` and ``mappings/`` as top-level folders; the
build ships them under import names the project owns (``rabt_schemas``,
``rabt_mappings``, see ``setup.py``), so site-packages gains no generic
``schemas`` package. Everything is looked up through
:mod:`importlib.resources`, never relative to a source file, so the same code
finds the files in a checkout (an editable install maps the names onto the
folders) and in an installed wheel.

The default ``routes.toml`` and ``access.toml`` name agencies, which the hub
must not know: the distribution that ships the agencies declares them under
the entry-point group ``rabt.defaults`` (``routes``, ``access``), and the hub
reads whichever file that names.
"""

from __future__ import annotations

from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

from hub.errors import ConfigError

SCHEMAS_PACKAGE = "rabt_schemas"
MAPPINGS_PACKAGE = "rabt_mappings"
DEFAULTS_GROUP = "rabt.defaults"


def package_folder(package: str) -> Path:
    """The folder of an installed data package.

    pip unpacks wheels, so the resources are real files; callers (lxml, zeep,
    Flask) need paths, not streams.
    """
    try:
        folder = Path(str(resources.files(package)))
    except (ModuleNotFoundError, TypeError) as exc:
        raise ConfigError(f"data package {package} is not installed ({exc}); reinstall rabt") from exc
    if not folder.is_dir():
        raise ConfigError(f"data package {package} is not a folder on disk ({folder}); install rabt unzipped")
    return folder


def canonical_schemas() -> Path:
    """Folder of the canonical XSD files, version 1."""
    return package_folder(SCHEMAS_PACKAGE) / "canonical" / "v1"


def agency_schemas() -> Path:
    """Root of the agencies' contracts: ``<agency>/*.wsdl`` and ``*.xsd``."""
    return package_folder(SCHEMAS_PACKAGE) / "agencies"


def mappings() -> Path:
    """Root of the mapping files: ``<agency>/<MessageType>.xsl``."""
    return package_folder(MAPPINGS_PACKAGE)


def default_file(name: str) -> Path:
    """The shipped default data file registered as ``name`` in ``rabt.defaults`` (``routes``, ``access``)."""
    found = [ep for ep in entry_points(group=DEFAULTS_GROUP) if ep.name == name]
    if not found:
        raise ConfigError(f"no default {name} file is installed (entry point group {DEFAULTS_GROUP}); "
                          f"set RABT_{name.upper()}_FILE")
    try:
        return Path(str(found[0].load()))
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"default {name} file {found[0].value} cannot be loaded: {exc}") from exc
