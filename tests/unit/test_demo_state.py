"""``rabt demo`` refuses a message log left by an earlier run instead of failing half-way."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.messagelog import open_message_log
from simulators.demo.main import require_empty_log


def test_an_empty_log_is_fine_and_a_used_one_is_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'messages.sqlite3'}"
    require_empty_log(url)  # creates it, finds nothing
    with open_message_log(url) as log:
        log.refuse(b"<x/>", "police", "an earlier run's refusal")
    with pytest.raises(ConfigError, match=r"holds 1 record\(s\) from an earlier run: point RABT_DATABASE_URL"):
        require_empty_log(url)


def test_the_demo_cleans_only_a_folder_it_marked(tmp_path):
    from simulators.demo.home import MARKER, claim, fresh_state

    folder = tmp_path / "demo"
    claim(folder)  # new: made and marked
    (folder / "messages.sqlite3").write_bytes(b"last run")
    (folder / "pki").mkdir()
    fresh_state(folder)
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "pki"]  # run state gone, keys kept

    foreign = tmp_path / "hub"
    foreign.mkdir()
    (foreign / "messages.sqlite3").write_bytes(b"a hub's log")
    with pytest.raises(ConfigError, match="did not make"):
        claim(foreign)
    with pytest.raises(ConfigError, match="not a folder rabt demo made"):
        fresh_state(foreign)
    assert (foreign / "messages.sqlite3").read_bytes() == b"a hub's log"
