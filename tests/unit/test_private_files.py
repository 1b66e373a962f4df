"""Secrets are private from their first byte: private keys, the console users
file and the session store are created with mode 0600 by the open call itself,
under the usual umask 022, and never chmod-ed into privacy afterwards."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub import pki
from hub.console.sessions import SessionStore
from hub.console.users import Users, write_users_file
from hub.private_files import create_private, write_private


@pytest.fixture
def created(monkeypatch, tmp_path):  # tmp_path first: its own lock file is not ours to check
    """Every file the code creates, with its mode read from the inode right after the ``open``."""
    previous = os.umask(0o022)  # the usual umask: a plain open would make the file world-readable
    modes: dict[str, int] = {}
    real_open = os.open

    def observed_open(path, flags, mode=0o777, *args, **kwargs):
        existed = os.path.exists(path)
        descriptor = real_open(path, flags, mode, *args, **kwargs)
        if flags & os.O_CREAT and not existed:
            modes[os.fspath(path)] = stat.S_IMODE(os.fstat(descriptor).st_mode)
        return descriptor

    def no_chmod(*args, **kwargs):
        raise AssertionError("a secret file was chmod-ed after creation")

    monkeypatch.setattr(os, "open", observed_open)
    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    yield modes
    os.umask(previous)


def test_private_keys_are_0600_from_creation(created, tmp_path):
    made = pki.init_pki(tmp_path / "pki", ["police"], key_type="ec")
    assert made == ["ca", "hub", "police"]
    assert len(created) == 3 and set(created.values()) == {0o600}, created  # the three keys' temporaries
    assert all(Path(name).name.startswith((".ca.key.", ".hub.key.", ".police.key.")) for name in created)
    for key in ("ca.key", "hub.key", "agencies/police.key"):
        assert stat.S_IMODE((tmp_path / "pki" / key).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "pki" / "hub.pem").stat().st_mode) == 0o644  # certificates are public
    assert not [p for p in (tmp_path / "pki").rglob("*.tmp")]  # no temporary left behind


def test_users_file_is_0600_from_creation_and_reads_back(created, tmp_path):
    path = tmp_path / "home" / "console-users.toml"
    write_users_file(path, {"users": {"أمل": {"role": "admin", "password": "scrypt:32768:8:1$x$y"}}})
    assert list(created.values()) == [0o600]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Users.load(path).passwords["أمل"] == ("scrypt:32768:8:1$x$y", "admin")
    write_users_file(path, {"users": {}})  # rewritten: through a new private file and a rename
    assert list(created.values()) == [0o600, 0o600] and Users.load(path).passwords == {}


def test_session_store_is_0600_from_creation(created, tmp_path):
    store = SessionStore(tmp_path / "home" / "console-sessions.sqlite3")
    session_id = store.open("amal", "fingerprint")
    assert store.check(session_id, "amal", "fingerprint")
    path = os.fspath(store.path)
    assert created[path] == 0o600 and stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert session_id.encode() not in store.path.read_bytes()  # only its digest is kept


def test_write_private_keeps_an_existing_file_when_told_not_to_replace(tmp_path):
    target = tmp_path / "secret"
    write_private(target, b"first")
    with pytest.raises(FileExistsError):
        write_private(target, b"second", replace=False)
    assert target.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["secret"]
    assert create_private(target) is False and target.read_bytes() == b"first"
