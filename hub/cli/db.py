"""``rabt db upgrade|current|history``: the schema versions of the hub's databases.

``--database`` names a database with a schema history (entry-point group
``rabt.databases``: ``messagelog``, the default, and ``licensing``); its URL
comes from the settings unless ``--url`` is given. Printed URLs have their
password masked.
"""

from __future__ import annotations

import click

from hub.redact import redact_url
from hub.config import Settings
from hub.errors import ConfigError
from hub.messagelog.db import make_engine, require_database


@click.group()
def db() -> None:
    """Schema versions of the message log and licensing's database."""


def _database_options(command):
    command = click.option("--url", metavar="URL",
                           help="Database to act on (default: from the settings, e.g. RABT_DATABASE_URL).")(command)
    return click.option("--database", "name", default="messagelog", show_default=True,
                        help="Which database: messagelog or licensing.")(command)


def _history(name: str):
    from hub.migrations import DATABASES_GROUP, schema_histories

    histories = schema_histories()
    if name not in histories:
        raise ConfigError(f"no database named {name!r} (entry points {DATABASES_GROUP}: "
                          f"{', '.join(sorted(histories)) or 'none installed'})")
    return histories[name]


def _engine(history, settings: Settings, url: str | None):
    url = url or history.default_url(settings)
    return make_engine(url), redact_url(url)


@db.command()
@_database_options
@click.pass_obj
def upgrade(settings: Settings, name: str, url: str | None) -> None:
    """Migrate the database to this version's newest layout (creating it if empty).

    Safe to run again, and from several places at once: migrations take a lock.
    """
    history = _history(name)
    engine, shown = _engine(history, settings, url)
    try:
        before, after = history.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"{history.name} {shown}: at revision {after}, nothing to do")
    else:
        click.echo(f"{history.name} {shown}: upgraded from revision {before or 'none'} to {after}")


@db.command()
@_database_options
@click.pass_obj
def current(settings: Settings, name: str, url: str | None) -> None:
    """Print the database's revision and whether it is the newest; exit 1 when behind."""
    history = _history(name)
    engine, shown = _engine(history, settings, url)
    try:
        require_database(engine)  # reading must not create an empty SQLite file
        revision, head = history.current(engine), history.head()
    finally:
        engine.dispose()
    state = "newest" if revision == head else f"behind {head}: run rabt db upgrade"
    click.echo(f"{history.name} {shown}: revision {revision or 'none'} ({state})")
    if revision != head:
        raise SystemExit(1)


@db.command()
@click.option("--database", "name", default="messagelog", show_default=True,
              help="Which database: messagelog or licensing.")
def history(name: str) -> None:
    """List the revisions this version knows, oldest first."""
    for revision, doc in _history(name).history():
        click.echo(f"{revision}  {doc}")
