"""The gateway's listening socket, and a gate on it that no single client can fill.

waitress caps connections in all (``connection_limit``) and closes idle ones
(``channel_timeout``), but has no limit per client address and no deadline
for a request's head: a hundred idle, half-sent requests from one address
would take every slot, and a client trickling a byte every few seconds never
looks idle. waitress accepts from whatever socket it is given
(``create_server(app, sockets=[...])``, public API), so the gate sits there,
in the two socket methods waitress calls:

* :class:`GatedListener` ``accept()`` — a connection from an address already
  holding ``per_client`` connections is answered ``503`` and closed at once,
  before waitress ever sees it;
* :class:`GatedConnection` ``recv()`` — until the first request's head is
  complete (a blank line), a connection that passes ``header_timeout``
  reads as closed by the client, so waitress closes it on its next byte;
  one that sends nothing at all is waitress's idle timeout's.

Counts are per process: with ``rabt serve --processes N`` one address holds
at most ``N × per_client`` connections. Behind the TLS proxy every
connection comes from the proxy's address, so there the per-client limit is
the proxy's (``limit_conn`` in deploy/nginx) and the gate's is switched off.
Each change of state is one log line: an address reaching its limit, and the
same address back under it with the number refused meanwhile.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections import Counter

log = logging.getLogger(__name__)

#: connections refused in one ``accept()`` call before waitress's loop gets a turn again
MAX_REFUSED_PER_ACCEPT = 64
#: what an over-limit client reads before its connection closes (sent without waiting)
OVER_LIMIT_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
                     b"Content-Length: 0\r\n\r\n")
END_OF_HEAD = b"\r\n\r\n"


def bind_listener(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: a free port), inheritable by child processes."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.set_inheritable(True)
    return sock


class AddressSlots:
    """Open connections per client address, and the ones refused while an address was at its limit."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._open: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, address: str) -> bool:
        """Whether ``address`` may open one more connection (then it holds one slot more)."""
        with self._lock:
            if self.per_client and self._open[address] >= self.per_client:
                if not self._refused[address]:
                    log.warning("client %s reached its limit of %d connections; refusing more", address,
                                self.per_client)
                self._refused[address] += 1
                return False
            self._open[address] += 1
            return True

    def release(self, address: str) -> None:
        """One connection of ``address`` has closed."""
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]
            refused = self._refused.pop(address, 0) if self._open[address] < self.per_client else 0
        if refused:
            log.info("client %s back under its connection limit; %d connections refused meanwhile", address,
                     refused)

    def held(self, address: str) -> int:
        """Connections ``address`` holds now."""
        with self._lock:
            return self._open[address]


class GatedConnection(socket.socket):
    """An accepted connection that gives its address's slot back when closed, and has a deadline for its head."""

    def __init__(self, accepted: socket.socket, address: str, slots: AddressSlots, header_timeout: float) -> None:
        super().__init__(accepted.family, accepted.type, accepted.proto, fileno=accepted.detach())
        self._address, self._slots = address, slots
        self._head_deadline = time.monotonic() + header_timeout if header_timeout > 0 else None
        self._tail = b""
        self._released = False

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self._head_deadline is not None and time.monotonic() > self._head_deadline:
            return b""  # waitress reads this as the client hanging up, and closes the connection
        data = super().recv(bufsize, flags)
        if self._head_deadline is not None and END_OF_HEAD in self._tail + data:
            self._head_deadline = None
        self._tail = (self._tail + data)[-3:]
        return data

    def close(self) -> None:
        try:
            super().close()
        finally:
            if not self._released:
                self._released = True
                self._slots.release(self._address)


class GatedListener(socket.socket):
    """A listening socket whose ``accept()`` refuses clients over their per-address limit."""

    def __init__(self, listening: socket.socket, per_client: int = 0, header_timeout: float = 0.0) -> None:
        super().__init__(listening.family, listening.type, listening.proto, fileno=listening.detach())
        self.slots = AddressSlots(per_client)
        self.header_timeout = header_timeout

    def accept(self) -> tuple[socket.socket, object]:
        for _ in range(MAX_REFUSED_PER_ACCEPT):
            connection, peer = super().accept()  # BlockingIOError when none is waiting: waitress expects it
            address = peer[0] if isinstance(peer, tuple) else str(peer)
            if self.slots.take(address):
                return GatedConnection(connection, address, self.slots, self.header_timeout), peer
            _refuse(connection)
        raise BlockingIOError(errno.EAGAIN, "over-limit connections refused; more may be waiting")


def _refuse(connection: socket.socket) -> None:
    """Tell an over-limit client why, without waiting on it, and close."""
    try:
        connection.setblocking(False)
        connection.send(OVER_LIMIT_ANSWER)
    except OSError:
        pass  # the client is gone or not reading: closing is all that is left
    finally:
        connection.close()
