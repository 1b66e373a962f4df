"""The console's watched users file: a rewrite is seen even when size and time stay alike."""

from __future__ import annotations

import os

from werkzeug.security import generate_password_hash

from hub.console.users import write_users_file
from hub.console.users_watch import WatchedUsers


def _write(path, password: str) -> None:
    # a fixed salt length and method: every hash has the same length, so the file keeps its size
    digest = generate_password_hash(password, method="pbkdf2:sha256:1000", salt_length=16)
    write_users_file(path, {"users": {"amal": {"role": "operator", "password": digest}}})


def test_a_same_size_rewrite_within_one_clock_tick_is_read_again(tmp_path):
    path, now = tmp_path / "users.toml", [0.0]
    _write(path, "old-password-1")
    before = path.stat()
    watch = WatchedUsers(path, interval=1.0, clock=lambda: now[0])
    assert watch.current().check_password("amal", "old-password-1") is not None

    _write(path, "new-password-2")  # renamed into place, as `rabt console user` does
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as if within the same tick
    assert path.stat().st_size == before.st_size
    assert watch.current().check_password("amal", "old-password-1") is not None  # not looked again yet
    now[0] = 1.0
    users = watch.current()
    assert users.check_password("amal", "old-password-1") is None
    assert users.check_password("amal", "new-password-2").role == "operator"
