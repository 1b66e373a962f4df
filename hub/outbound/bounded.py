"""zeep's HTTP transport, reading an agency's answer within a size and a time budget.

requests reads a whole body into memory, and its timeout counts per socket
read: an endpoint that sends without end, or a byte every few seconds, would
fill a worker's memory or hold it forever. This transport streams the answer
and stops at ``max_bytes`` or when the call has taken ``deadline`` seconds.
The deadline is checked as each piece arrives; a pause with nothing arriving
is ended by requests' own per-read timeout (``operation_timeout``).
"""

from __future__ import annotations

import time

import requests
from zeep.transports import Transport

from hub.errors import AgencyUnavailableError

_CHUNK = 64 * 1024
#: of an answer cut off for its size, what is kept for the operator
KEPT_PREFIX = 64 * 1024


class AnswerTooLarge(Exception):
    """The answer went past the size limit; ``prefix`` is its beginning, ``read`` how much was read."""

    def __init__(self, status: int, prefix: bytes, read: int, declared: int | None) -> None:
        super().__init__(f"answer over the limit after {read} bytes")
        self.status, self.prefix, self.read, self.declared = status, prefix, read, declared


class ReadAnswer(requests.Response):
    """An answer whose body was read here, within the budget, handed to zeep as a requests Response.

    requests has no public way to give a streamed response the body read from
    it (``content`` then raises "already consumed"), so this subclass carries
    the streamed response's public attributes and answers ``content`` itself.
    """

    _COPIED = ("status_code", "headers", "url", "encoding", "reason", "cookies", "elapsed", "request", "history")

    def __init__(self, streamed: requests.Response, body: bytes) -> None:
        super().__init__()
        for name in self._COPIED:
            setattr(self, name, getattr(streamed, name))
        self.body = body

    @property
    def content(self) -> bytes:
        return self.body


class BoundedTransport(Transport):
    """A zeep Transport whose posts raise AnswerTooLarge, or AgencyUnavailableError when too slow."""

    def __init__(self, *, max_bytes: int, deadline: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes
        self.deadline = deadline

    def post(self, address, message, headers):
        started = time.monotonic()
        response = self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout,
                                     stream=True)
        try:
            declared = response.headers.get("Content-Length", "")
            declared_size = int(declared) if declared.isdigit() else None
            if declared_size is not None and declared_size > self.max_bytes:
                raise AnswerTooLarge(response.status_code, b"", 0, declared_size)
            body = bytearray()
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise AnswerTooLarge(response.status_code, bytes(body[:KEPT_PREFIX]), len(body), None)
                if time.monotonic() - started > self.deadline:
                    raise AgencyUnavailableError(f"{address}: the answer took over {self.deadline:g}s "
                                                 f"({len(body)} bytes by then)")
        finally:
            # read to the end: the connection goes back to the pool; left mid-answer: it is closed
            response.close()
        return ReadAnswer(response, bytes(body))
