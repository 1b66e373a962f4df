"""Schema versions of the hub's databases, moved forward with Alembic.

A database's layout is a chain of Alembic revisions (a *schema history*):
the first, the baseline, creates the layout as it was when versions began;
each later one changes it. The message log's history lives in
``hub.migrations.messagelog``, licensing's in ``simulators.licensing.migrations``;
each keeps its own version table, so both can share one PostgreSQL database.
The revision scripts ship inside the package (they are Python modules), so an
installed wheel migrates as a checkout does.

There is one way a layout comes into being: a new, empty database is created
by running the migrations, exactly as an old one is brought forward.
:func:`open_schema` is what a process calls when it opens a database:

* empty: create it (every process may try at once; see below);
* at the newest revision: nothing to do;
* behind: SQLite upgrades on the spot, PostgreSQL refuses with one line
  naming ``rabt db upgrade``. An embedded SQLite log serves one machine,
  whose processes were all just upgraded together. A PostgreSQL log serves
  gateways, workers and watchers on several machines, upgraded one after the
  other: if the first to restart migrated, the old versions still running
  would write into a layout they do not know, and an upgrade of the evidence
  deserves its own step, after a backup. So there the operator migrates,
  once, with ``rabt db upgrade``; processes wait for it by refusing to start;
* ahead (a revision this version does not know): refused on both; a newer
  version of Rabt wrote it.

Every migration runs in one transaction that first takes the database's
migration lock — ``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite — and only then reads the version, so processes starting at once on
an empty database create it once, and two ``rabt db upgrade`` runs cannot
interleave. DDL is transactional on both databases: a migration that fails
leaves the previous layout, never half of the next.

To change a layout, change the tables (``hub.messagelog.schema``) and add the
next revision under ``versions/`` by hand: ``revision``/``down_revision`` and
``op.*`` calls, with any data moved in the same revision (the log's lanes, for
one: the existing chain becomes the first lane). Tables of the log's database
declared elsewhere (``hub.deadletters``, ``hub.idempotency``) follow the same
rule; a table older code made on first use enters the history through
:func:`hub.migrations.adopting.create_or_adopt`. ``tests/unit/test_migrations.py``
fails while the tables and the newest revision disagree.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from hub.errors import ConfigError, MessageLogError, MessageLogUnavailableError
from hub.messagelog import db

#: entry-point group naming every database with a schema history (``rabt db --database NAME``)
DATABASES_GROUP = "rabt.databases"


def _unversioned_layout(_conn: Connection) -> str | None:
    return None


@dataclass(frozen=True)
class SchemaHistory:
    """One database's chain of revisions and how to recognise its layouts from before versions."""

    name: str
    """What the database is, for messages (``message log``)."""

    scripts: str
    """The package holding ``env.py`` and ``versions/`` (``hub.migrations.messagelog``)."""

    version_table: str
    """Table recording the database's revision; one per history, so histories can share a database."""

    tables: frozenset[str]
    """The baseline's tables: a database holding none of them (and no version) is empty."""

    adopt: Callable[[Connection], str | None] = field(default=_unversioned_layout, compare=False)
    """For a database written before versions: bring it to a revision's layout if needed, return
    that revision (called inside the migration transaction, with the lock held)."""

    default_url: Callable[[object], str] | None = field(default=None, compare=False)
    """The database's URL from the hub's settings, for ``rabt db`` without ``--url``."""

    def head(self) -> str:
        """The newest revision this version of Rabt knows."""
        return _script_directory(self.scripts).get_current_head()

    def history(self) -> list[tuple[str, str]]:
        """``(revision, what it does)`` for every revision, oldest first."""
        scripts = _script_directory(self.scripts)
        return [(s.revision, s.doc) for s in reversed(list(scripts.walk_revisions()))]

    def current(self, engine: Engine) -> str | None:
        """The database's revision; None when it has none (empty, or written before versions)."""
        with db.translated("read its schema version"), engine.connect() as conn:
            return self._context(conn).get_current_revision()

    def upgrade(self, engine: Engine, revision: str = "head") -> tuple[str | None, str]:
        """Migrate to ``revision`` under the migration lock; ``(revision before, revision after)``."""
        db.make_folder(engine)
        where = engine.url.render_as_string(hide_password=True)
        try:
            with db.write_transaction(engine) as conn:
                _take_migration_lock(conn, self.version_table)
                before = self._context(conn).get_current_revision()
                if before is None and (adopted := self.adopt(conn)):
                    command.stamp(self._config(conn), adopted)
                command.upgrade(self._config(conn), revision)
                return before, self._context(conn).get_current_revision()
        except sa.exc.SQLAlchemyError as exc:
            raise MessageLogError(f"cannot migrate the {self.name} {where}: "
                                  f"{getattr(exc, 'orig', None) or exc}") from exc
        except CommandError as exc:
            raise MessageLogError(f"cannot migrate the {self.name} {where}: {exc}") from exc

    def is_empty(self, engine: Engine) -> bool:
        """True when the database holds neither a version nor any of the baseline's tables."""
        with db.translated(f"open the {self.name}"), engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
        return not present & (self.tables | {self.version_table})

    def _context(self, conn: Connection) -> MigrationContext:
        return MigrationContext.configure(conn, opts={"version_table": self.version_table})

    def _config(self, conn: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", _script_location(self.scripts))
        config.attributes.update(connection=conn, version_table=self.version_table)
        return config


def open_schema(engine: Engine, history: SchemaHistory, *, create: bool, upgrade: bool) -> None:
    """Make sure ``engine``'s database has ``history``'s newest layout before it is used.

    ``create``: an empty database is created. ``upgrade``: one that is behind
    is migrated; otherwise it is a MessageLogError saying to run ``rabt db upgrade``.
    """
    where = engine.url.render_as_string(hide_password=True)
    if create:
        db.make_folder(engine)  # a first run starts from nothing; SQLite makes only the file
    head, current = history.head(), _current_once_settled(engine, history)
    if current == head:
        return
    if current is not None and current not in _known(history):
        raise MessageLogError(f"the {history.name} {where} is at schema revision {current}, which this version "
                              "of rabt does not know: a newer version wrote it; run that version")
    empty = current is None and history.is_empty(engine)
    if (empty and create) or (not empty and upgrade):
        history.upgrade(engine)
        return
    if empty:
        raise MessageLogError(f"{where} is not a {history.name}: the database holds none of its tables")
    raise MessageLogError(f"the {history.name} {where} has an earlier layout (revision {current or 'none'}, "
                          f"this version needs {head}): run rabt db upgrade")


def _current_once_settled(engine: Engine, history: SchemaHistory, attempts: int = 8) -> str | None:
    """The database's revision; on SQLite asked again, with backoff, while another process is creating or
    migrating it: SQLite can answer a connection opened during that DDL 'database is locked' at once,
    without its busy handler (seen with six processes opening one new log together)."""
    for attempt in range(1, attempts):
        try:
            return history.current(engine)
        except MessageLogUnavailableError as exc:
            if not db.is_sqlite(engine) or "locked" not in str(exc):
                raise
            time.sleep(0.05 * 2 ** attempt)
    return history.current(engine)


def schema_histories() -> dict[str, SchemaHistory]:
    """Every installed schema history by name (entry-point group ``rabt.databases``)."""
    found = {}
    for entry in entry_points(group=DATABASES_GROUP):
        try:
            found[entry.name] = entry.load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"schema history {entry.name} ({entry.value}) cannot be loaded: {exc}") from exc
    return found


def _take_migration_lock(conn: Connection, name: str) -> None:
    """Serialise migrations of one database; SQLite's BEGIN IMMEDIATE already holds its only lock."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


@cache
def _known(history: SchemaHistory) -> frozenset[str]:
    return frozenset(revision for revision, _ in history.history())


@cache
def _script_directory(scripts: str) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", _script_location(scripts))
    return ScriptDirectory.from_config(config)


def _script_location(scripts: str) -> str:
    from hub.resources import package_folder

    return str(package_folder(scripts))
