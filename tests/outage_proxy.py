"""A TCP proxy that tests put between the hub and RabbitMQ or PostgreSQL, to cause an outage on cue.

The broker and the database are shared by everyone on the machine, so a test
must never stop them; it points the processes under test at this proxy and
cuts the proxy instead:

    with OutageProxy(5672) as proxy:          # listens on 127.0.0.1:proxy.port
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
        ...
        proxy.cut()        # every connection closed, new ones refused (the port stops listening)
        proxy.restore()    # the same port accepts again

Threads, not asyncio: a pair of copying threads per connection is plenty for a
few dozen connections, and the test's own code stays synchronous.
"""

from __future__ import annotations

import socket
import threading


class OutageProxy:
    """Forwards 127.0.0.1:``port`` to ``target_host``:``target_port`` until :meth:`cut`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.accepted = 0
        """Connections accepted so far (a reconnect shows as one more)."""

    def __enter__(self) -> OutageProxy:
        self.restore()
        return self

    def __exit__(self, *exc_info) -> None:
        self.cut()

    def restore(self) -> None:
        """Listen (again, on the same port) and forward every new connection; nothing when listening already."""
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="outage-proxy").start()

    def cut(self) -> None:
        """Stop listening (connects are refused) and close every forwarded connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            _close(listener)
        for sock in connections:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # cut: the listener is closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _close(client), _close(upstream)
                    return
                self._connections |= {client, upstream}
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._copy, args=(source, sink), daemon=True).start()

    def _copy(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass  # cut, or the other side went away
        for sock in (source, sink):
            _close(sock)
            with self._lock:
                self._connections.discard(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (a listener) or already shut
    sock.close()
