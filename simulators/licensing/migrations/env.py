"""Alembic environment of the licensing database's schema history."""

from hub.migrations.runner import run

run()
