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

With several gateway processes on one socket (:mod:`hub.prefork`) the kernel
wakes every process polling it for each new connection and the first to run
takes it: on a loaded machine that is the process already running, the busy
one, so it took every connection (8 of 8 keep-alive clients in the end-to-end
benchmark, the other process idle). :class:`ConnectionTable` is a small table
in memory shared by the master and its children, each child's open
connections in its slot; a process holding more than the lightest live one
lets it go first (:data:`DEFER_SECONDS`) before taking a pending connection
itself, so the load spreads, and a hung or starved peer costs only that pause.

Each change of state is one log line: an address reaching its limit, and the
same address back under it with the number refused meanwhile.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: connections refused in one ``accept()`` call before waitress's loop gets a turn again
MAX_REFUSED_PER_ACCEPT = 64
#: what an over-limit client reads before its connection closes (sent without waiting)
OVER_LIMIT_ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
                     b"Content-Length: 0\r\n\r\n")
END_OF_HEAD = b"\r\n\r\n"
#: how long a process holding more connections than the lightest peer leaves a pending one to it
DEFER_SECONDS = 0.003
#: connections more than the lightest peer's that make a process defer (1: any difference)
DEFER_MARGIN = 1
#: a slot whose process is not running (not started yet, or died): left out of the comparison
ABSENT = -1
_SLOT = struct.Struct("=i")


def bind_listener(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A TCP socket listening on ``host:port`` (0: a free port), inheritable by child processes."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.set_inheritable(True)
    return sock


class ConnectionTable:
    """Open connections of each gateway process, in memory shared by the master and its children.

    The master makes it (:meth:`create`, one slot per child, all :data:`ABSENT`)
    and passes its descriptor to every child, which writes its own slot only;
    a slot is one aligned 32-bit word, so a reader sees either the old or the
    new count. The master marks a dead child's slot :data:`ABSENT`.
    """

    def __init__(self, fd: int, slots: int) -> None:
        self.fd, self.slots = fd, slots
        self._memory = mmap.mmap(fd, slots * _SLOT.size)

    @classmethod
    def create(cls, slots: int) -> ConnectionTable | None:
        """A new table inheritable by children; None where shared anonymous memory is not available."""
        if not hasattr(os, "memfd_create") or slots < 2:
            return None
        fd = os.memfd_create("rabt-gateway-connections")  # close-on-exec: children get it by pass_fds only
        os.ftruncate(fd, slots * _SLOT.size)
        table = cls(fd, slots)
        for slot in range(1, slots + 1):
            table.write(slot, ABSENT)
        return table

    @classmethod
    def attach(cls, fd: int) -> ConnectionTable:
        """The table a master made, from the descriptor a child inherited."""
        return cls(fd, os.fstat(fd).st_size // _SLOT.size)

    def write(self, slot: int, connections: int) -> None:
        """Slot ``slot`` (from 1) holds ``connections`` (or :data:`ABSENT`)."""
        if 1 <= slot <= self.slots:
            _SLOT.pack_into(self._memory, (slot - 1) * _SLOT.size, connections)

    def read(self) -> list[int]:
        return [_SLOT.unpack_from(self._memory, i * _SLOT.size)[0] for i in range(self.slots)]

    def close(self) -> None:
        self._memory.close()
        os.close(self.fd)

    def lightest_other(self, slot: int) -> int | None:
        """The fewest connections a running process other than ``slot`` holds (None: no other is running)."""
        counts = [c for i, c in enumerate(self.read(), start=1) if i != slot and c != ABSENT]
        return min(counts) if counts else None


@dataclass(frozen=True)
class Peers:
    """This process's slot in the table it shares with the other gateway processes."""

    table: ConnectionTable
    slot: int

    def publish(self, connections: int) -> None:
        self.table.write(self.slot, connections)

    def should_defer(self, connections: int) -> bool:
        """Whether a running peer holds fewer connections than this process by more than the margin."""
        lightest = self.table.lightest_other(self.slot)
        return lightest is not None and connections - lightest >= DEFER_MARGIN


class AddressSlots:
    """Open connections per client address, and the ones refused while an address was at its limit.

    ``watch`` is told the number of open connections in all after each change.
    """

    def __init__(self, per_client: int, watch: Callable[[int], None] | None = None) -> None:
        self.per_client = per_client
        self._open: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._watch = watch
        self.total = 0

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
            self.total += 1
            if self._watch is not None:
                self._watch(self.total)
            return True

    def release(self, address: str) -> None:
        """One connection of ``address`` has closed."""
        with self._lock:
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]
            self.total -= 1
            if self._watch is not None:
                self._watch(self.total)
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
        if self._head_deadline is not None:  # once the head is in, a body's bytes are not copied again
            seen = self._tail + data
            if END_OF_HEAD in seen:
                self._head_deadline = None
            self._tail = seen[-3:]
        return data

    def close(self) -> None:
        try:
            super().close()
        finally:
            if not self._released:
                self._released = True
                self._slots.release(self._address)


class GatedListener(socket.socket):
    """A listening socket whose ``accept()`` refuses clients over their per-address limit.

    With ``peers`` (a socket shared with other gateway processes) it also leaves a
    pending connection to a peer holding fewer connections, for :data:`DEFER_SECONDS`.
    """

    def __init__(self, listening: socket.socket, per_client: int = 0, header_timeout: float = 0.0,
                 peers: Peers | None = None) -> None:
        super().__init__(listening.family, listening.type, listening.proto, fileno=listening.detach())
        self.peers = peers
        self.slots = AddressSlots(per_client, peers.publish if peers is not None else None)
        self.header_timeout = header_timeout
        if peers is not None:
            peers.publish(0)  # running, and holding nothing yet

    def accept(self) -> tuple[socket.socket, object]:
        if self.peers is not None and self.peers.should_defer(self.slots.total):
            # every process polling the socket was woken; a lighter one takes it meanwhile (then: EAGAIN)
            time.sleep(DEFER_SECONDS)
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
