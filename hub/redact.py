"""Passwords out of everything the hub prints or logs.

Broker and database URLs carry their password (``amqp://hub:s3cret@mq/``),
and they reach the operator's screen and log collector by three roads: the
start-up banner, the hub's own log lines, and library error messages that
quote the URL. One helper for all three: :func:`redact_url` for a URL the
hub holds, :func:`redact_text` for free text that may contain one (the log
formatter runs every line through it).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

#: what stands where a password was
MASK = "***"

#: ``scheme://user:password@`` in free text; the password ends at the last ``@`` before the host
_CREDENTIALS = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)(?P<password>[^\s/]*)@")

#: ``password=…`` in libpq-style connection strings and query parameters
_PASSWORD_PARAMETER = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>[^\s&;'\"]+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, host, path and query kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL we can take apart: mask whatever looks like a password
        return redact_text(url)
    if parts.password is None:
        return redact_text(url)
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return redact_text(urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{hostinfo}")))


def redact_text(text: str) -> str:
    """``text`` with the password of every URL and every ``password=`` parameter masked."""
    text = _CREDENTIALS.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _PASSWORD_PARAMETER.sub(lambda m: f"{m['head']}{MASK}", text)
