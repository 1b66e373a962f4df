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
