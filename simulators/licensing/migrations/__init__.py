"""The licensing database's schema history (revisions under ``versions/``).

Its own version table (``rabt_licensing_version``), so licensing may share a
PostgreSQL database with the message log. Like the log, a new database is
created by the migrations, SQLite is upgraded on open and PostgreSQL waits
for ``rabt db upgrade --database licensing`` (see :mod:`hub.migrations`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.migrations import SchemaHistory, open_schema
from hub.messagelog.db import is_sqlite

BASELINE_TABLES = frozenset({
    "lic_applications", "lic_requested_vacancies", "lic_decisions", "lic_licences", "lic_vacancies",
    "lic_visas", "lic_worker_events", "lic_salary_batches", "lic_labour_cases", "lic_events",
})


def adopt(conn: Connection) -> str | None:
    """A database written before versions has the baseline's layout (the only one there was)."""
    return "0001" if sa.inspect(conn).has_table("lic_applications") else None


def settings_url(settings) -> str:
    """Licensing's database URL from the hub's settings (``RABT_LICENSING_DATABASE_URL``, else under home)."""
    from hub.config import config_source
    from simulators.licensing.config import LicensingConfig

    return LicensingConfig.from_source(config_source(), settings).effective_database_url


LICENSING = SchemaHistory(
    name="licensing database", scripts="simulators.licensing.migrations", version_table="rabt_licensing_version",
    tables=BASELINE_TABLES, adopt=adopt, default_url=settings_url,
)


def open_licensing_database(engine: Engine) -> None:
    """Create the database, or bring it to the newest layout (SQLite) or refuse until it is (PostgreSQL)."""
    open_schema(engine, LICENSING, create=True, upgrade=is_sqlite(engine))
