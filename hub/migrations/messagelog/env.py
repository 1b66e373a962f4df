"""Alembic environment of the message log's schema history."""

from hub.migrations.runner import run

run()
