"""Library errors a misconfiguration causes, as the one line ``rabt`` prints instead of a traceback.

The hub's own errors (:class:`~hub.errors.RabtError`) already read as one
line. A few library errors reach the command line untranslated because they
come from the operating system or a settings file, whatever part raised them:
a port already in use, a folder that cannot be written, a host name that does
not resolve, a TOML file that does not parse. :func:`explain` names them and
the fix; anything else returns None and keeps its traceback, since it is a bug.
"""

from __future__ import annotations

import errno
import socket
import tomllib

from hub.redact import redact_text

#: errno values that mean "this path cannot be used", whatever the path is
_PATH_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.ENOSPC, errno.EISDIR}


def explain(exc: BaseException) -> str | None:
    """One line for a misconfiguration's library error, naming what to do; None for anything else."""
    if isinstance(exc, socket.gaierror):
        return (f"a host name does not resolve ({exc.strerror}): "
                "check the hosts in RABT_BROKER_URL, RABT_DATABASE_URL and the agencies' endpoint URLs")
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return ("address already in use: another program listens on that port; "
                "stop it or choose another port (--port, --gateway-port, --console-port)")
    if isinstance(exc, OSError) and exc.errno in _PATH_ERRORS and exc.filename:
        return (f"cannot use {exc.filename}: {exc.strerror}; "
                "point RABT_HOME (or the setting naming that file) at a folder this user may write")
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"a settings file is not valid TOML ({exc}): fix that file"
    return None


def one_line(text: str) -> str:
    """``text`` on one line (a database's message may span several), passwords masked."""
    return redact_text(" ".join(text.split()))
