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
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: what stands where a password was
MASK = "***"

#: ``scheme://user:password@`` in free text; the password ends at the last ``@`` before the host
_CREDENTIALS = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)(?P<password>[^\s/]*)@")

#: query parameters of a URL that hold credentials (``?password=…``, ``&api_token=…``, ``sslkey=…``)
_CREDENTIAL_PARAMETER = re.compile(r"pass|secret|token|key", re.IGNORECASE)

#: ``password=…`` in libpq-style connection strings and query parameters
_PASSWORD_PARAMETER = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<password>[^\s&;'\"]+)", re.IGNORECASE)


def redact_url(url: str, mask: str = MASK) -> str:
    """``url`` with its password and credential-like query parameters replaced by ``mask``.

    User, host, path and the other parameters are kept, so the operator still
    sees which server and account are meant.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can take apart: mask whatever looks like a password
        return redact_text(url)
    if not parts.scheme or not parts.netloc:
        return redact_text(url)
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{mask}@{hostinfo}"
    query = urlencode([(k, mask if _CREDENTIAL_PARAMETER.search(k) else v) for k, v in parse_qsl(parts.query)],
                      safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """``text`` with the password of every URL and every ``password=`` parameter masked."""
    text = _CREDENTIALS.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _PASSWORD_PARAMETER.sub(lambda m: f"{m['head']}{MASK}", text)
