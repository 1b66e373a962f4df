"""A lean HTTP/1.1 client for the load generators: requests serialized once, answers read by a small parser.

The benchmarks measure the system, not their own client, and their client runs on the
same cores as the system. ``http.client`` builds every request from its parts and reads
every answer's headers with the email package: about half a millisecond of CPU per push
on the benchmark machines. Here a whole request (request line, headers, body) is one
``bytes`` made before the clock (:func:`prepared_request`) and sent in one call, and an
answer is read by :class:`AnswerReader`: the status line, the headers up to the blank
line, then a body of ``Content-Length`` bytes, of chunks (``Transfer-Encoding: chunked``),
or, with neither, up to the server's close. The gateway (waitress) and licensing
(werkzeug) give every answer the benchmarks ask for a Content-Length, but both chunk a
streamed answer on HTTP/1.1, so chunks are read too.

A connection that closes before its answer is whole, or an answer that is not HTTP/1.x,
is an :class:`AnswerError` saying how far the answer got.
"""

from __future__ import annotations

import re
import socket
from typing import NamedTuple

_HEAD_END = b"\r\n\r\n"
#: the headers that say where the body ends and whether the connection stays open: only these are read per answer
_FRAMING = re.compile(rb"\r\n((?:content-length|transfer-encoding|connection)[ \t]*:[^\r\n]*)", re.IGNORECASE)
#: the longest status line and headers read before the answer is refused
MAX_HEAD = 65536
_RECEIVE = 65536


class AnswerError(ConnectionError):
    """The server closed the connection before its answer was whole, or did not answer in HTTP/1.x."""

    def __init__(self, text: str, received: int) -> None:
        super().__init__(text)
        #: bytes of the answer that had come (0: none, the connection may have been closed while idle)
        self.received = received


class Answer(NamedTuple):
    status: int
    head: bytes
    """The status line and headers as they came (the blank line after them left out)."""
    body: bytes
    keep_alive: bool
    """Whether the connection may carry the next request."""

    @property
    def headers(self) -> dict[str, str]:
        """Every header, read from :attr:`head` when asked: names in lower case, a repeated one's values joined by ", "."""
        return _header_values(self.head.decode("latin-1").split("\r\n")[1:])


def _header_values(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def prepared_request(method: str, host: str, port: int, path: str, body: bytes = b"",
                     headers: dict[str, str] | None = None) -> bytes:
    """The whole request as sent: request line, ``Host``, ``headers``, ``Content-Length`` (when there is a body), body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}


class AnswerReader:
    """One answer, read from the bytes fed to it as they come off the connection."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: tuple[int, bytes, bool] | None = None
        self._length: int | None = None  # body bytes; None: chunked or up to the close
        self._chunked = False
        self._position = 0  # where the body (then the next chunk) starts in the buffer
        self._chunks: list[bytes] = []
        self._trailers = False  # past the last chunk, reading trailers up to a blank line

    @property
    def received(self) -> int:
        """Bytes of the answer fed so far."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Answer | None:
        """The answer once ``data`` completes it, else None (more is to come)."""
        self._buffer += data
        if self._head is None and not self._read_head():
            return None
        if self._chunked:
            return self._answer(b"".join(self._chunks)) if self._read_chunks() else None
        if self._length is None:
            return None
        end = self._position + self._length
        if len(self._buffer) < end:
            return None
        if len(self._buffer) > end:
            raise AnswerError(f"{len(self._buffer) - end} bytes after the answer's body", self.received)
        return self._answer(bytes(self._buffer[self._position:end]))

    def closed(self) -> Answer:
        """The server closed the connection: the answer when its body ends at the close, else AnswerError."""
        if self._head is None:
            where = "before answering" if not self._buffer else f"after {len(self._buffer)} bytes, in the answer's headers"
            raise AnswerError(f"the server closed the connection {where}", self.received)
        body = len(self._buffer) - self._position
        if self._chunked:
            raise AnswerError(f"the server closed the connection in the answer's chunked body (HTTP {self._head[0]}, "
                              f"{body} bytes of it)", self.received)
        if self._length is not None:
            raise AnswerError(f"the server closed the connection after {body} of the answer's {self._length} body "
                              f"bytes (HTTP {self._head[0]})", self.received)
        return self._answer(bytes(self._buffer[self._position:]))

    def _answer(self, body: bytes) -> Answer:
        status, head, keep_alive = self._head
        return Answer(status, head, body, keep_alive)

    def _read_head(self) -> bool:
        """Status line and headers, once the blank line after them is in; informational (1xx) answers skipped."""
        end = self._buffer.find(_HEAD_END)
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                raise AnswerError(f"no end of the answer's headers in its first {MAX_HEAD} bytes", self.received)
            return False
        head = bytes(self._buffer[:end])
        if not (head.startswith(b"HTTP/1.") and head[8:9] == b" " and head[9:12].isdigit()):
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            raise AnswerError(f"not an HTTP/1.x answer: {line[:80]!r}", self.received)
        status = int(head[9:12])
        if 100 <= status < 200:  # e.g. 100 Continue: the real answer follows
            del self._buffer[:end + 4]
            return self._read_head()
        framing = _header_values([found.decode("latin-1") for found in _FRAMING.findall(head)])
        self._body_from_head(status, head, framing)
        self._position = end + 4
        return True

    def _body_from_head(self, status: int, head: bytes, headers: dict[str, str]) -> None:
        """Where the body ends and whether the connection stays open, from the framing ``headers``."""
        connection = _tokens(headers["connection"]) if "connection" in headers else ()
        keep_alive = "keep-alive" in connection if head.startswith(b"HTTP/1.0") else "close" not in connection
        if status in (204, 304):
            self._length = 0
        elif "transfer-encoding" in headers and "chunked" in _tokens(headers["transfer-encoding"]):
            self._chunked = True
        elif (length := headers.get("content-length")) is not None:
            if not length.isdigit():
                raise AnswerError(f"Content-Length {length[:40]!r} is not a length", self.received)
            self._length = int(length)
        else:
            keep_alive = False  # the body ends where the server closes
        self._head = (status, head, keep_alive)

    def _read_chunks(self) -> bool:
        """Chunks as far as they have come; True once the last chunk and any trailers are in."""
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n", self._position)
            if line_end < 0:
                return False
            if self._trailers:
                blank = line_end == self._position
                self._position = line_end + 2
                if blank:
                    if len(buffer) > self._position:
                        raise AnswerError(f"{len(buffer) - self._position} bytes after the answer", self.received)
                    return True
                continue
            size = self._chunk_size(bytes(buffer[self._position:line_end]))
            if size == 0:
                self._trailers, self._position = True, line_end + 2
                continue
            data_end = line_end + 2 + size
            if len(buffer) < data_end + 2:
                return False
            if buffer[data_end:data_end + 2] != b"\r\n":
                raise AnswerError("a chunk of the answer does not end where its size says", self.received)
            self._chunks.append(bytes(buffer[line_end + 2:data_end]))
            self._position = data_end + 2

    def _chunk_size(self, line: bytes) -> int:
        digits = line.split(b";", 1)[0].strip()
        try:
            return int(digits, 16)
        except ValueError:
            raise AnswerError(f"not a chunk size: {line[:40]!r}", self.received) from None


class _Stale(Exception):
    """A reused connection the server had closed while it was idle (nothing of the answer came)."""


class Connection:
    """One keep-alive connection to ``host:port``, opened when first needed and again after it closed.

    :meth:`exchange` sends a prepared request and reads its answer, blocking;
    :class:`lean_loop.Exchanges` drives the same connections without blocking.
    """

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        #: answers read on the socket now open (0: just opened, so a close on it is not a stale keep-alive)
        self.answered = 0
        #: what the caller learnt of the server's end, e.g. which gateway process holds it
        self.label = ""

    def open(self) -> socket.socket:
        """The open socket (blocking, with the timeout), opened now when there is none."""
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), self.timeout)
            # a request is one write and its answer is awaited: no reason to let Nagle hold anything back
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.answered = 0
        return self.sock

    def exchange(self, request: bytes) -> Answer:
        """The answer to ``request``; a reused connection the server closed meanwhile is opened again, once."""
        try:
            return self._exchange(request)
        except _Stale:
            return self._exchange(request)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _exchange(self, request: bytes) -> Answer:
        sock, reader = self.open(), AnswerReader()
        reused = self.answered > 0
        try:
            sock.sendall(request)
            answer = None
            while answer is None:
                data = sock.recv(_RECEIVE)
                answer = reader.feed(data) if data else reader.closed()
        except BaseException as exc:
            self.close()
            if reused and reader.received == 0 and is_stale_close(exc):
                raise _Stale from exc
            raise
        self.answered += 1
        if not answer.keep_alive:
            self.close()
        return answer


def is_stale_close(exc: BaseException) -> bool:
    """Whether ``exc`` is how a keep-alive connection the server closed while idle fails on reuse."""
    return isinstance(exc, (AnswerError, ConnectionResetError, BrokenPipeError))
