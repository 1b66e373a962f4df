"""The library errors a misconfiguration causes read as one line naming the fix; a bug keeps its traceback."""

from __future__ import annotations

import errno
import socket
import tomllib

import pytest

from hub.cli.failures import explain, one_line


def _toml_error() -> tomllib.TOMLDecodeError:
    try:
        tomllib.loads("[users\n")
    except tomllib.TOMLDecodeError as exc:
        return exc
    raise AssertionError("parsed")


@pytest.mark.parametrize(("error", "fix"), [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "check the hosts in RABT_BROKER_URL"),
    (OSError(errno.EADDRINUSE, "Address already in use"), "choose another port"),
    (PermissionError(errno.EACCES, "Permission denied", "/srv/rabt"), "cannot use /srv/rabt: Permission denied"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/etc/passwd/var"), "point RABT_HOME"),
    (_toml_error(), "not valid TOML"),
])
def test_misconfigurations_are_named_with_their_fix(error, fix):
    line = explain(error)
    assert line is not None and fix in line and "\n" not in line


@pytest.mark.parametrize("bug", [KeyError("x"), TypeError("unsupported operand"), OSError(errno.EIO, "I/O error")])
def test_anything_else_keeps_its_traceback(bug):
    assert explain(bug) is None


def test_one_line_joins_lines_and_masks_passwords():
    assert one_line("connection to postgresql://rabt:s3cret@db failed\n\tIs the server running?") == (
        "connection to postgresql://rabt:***@db failed Is the server running?")
