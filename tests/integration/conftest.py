"""Fixtures the file-drop integration tests share (a test module's own fixture of the same name wins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.drop_helpers import shipped_pipeline


@pytest.fixture
def db_url(tmp_path) -> str:
    """A message log in a SQLite file of the test's own."""
    return f"sqlite:///{tmp_path / 'messages.sqlite3'}"


@pytest.fixture
def pipeline(trust_store, db_url):
    """The shipped pipeline on ``db_url``, closed after the test."""
    pipeline = shipped_pipeline(trust_store, db_url)
    yield pipeline
    pipeline.log.close()


@pytest.fixture
def root(tmp_path) -> Path:
    """The drop root: one folder per agency below it, made by the watcher."""
    return tmp_path / "drop"
