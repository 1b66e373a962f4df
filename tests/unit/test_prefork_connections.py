"""Gateway processes sharing one socket take new connections in turn (hub.listener, hub.prefork).

Two :class:`GatedListener` objects on one listening socket stand for two
gateway processes; they share a :class:`ConnectionTable` as the children of
``rabt serve --processes 2`` do. The pause a busier process takes before
accepting is where the lighter one takes the connection: the tests replace
that pause with the lighter one's own ``accept()``, so nothing depends on timing.
"""

from __future__ import annotations

import os
import socket
import sys

import pytest

from hub import listener
from hub.listener import ABSENT, ConnectionTable, GatedListener, Peers
from hub.prefork import ChildProcesses


@pytest.fixture
def shared():
    """A listening socket on a free loopback port, and a table of two slots."""
    sock = socket.create_server(("127.0.0.1", 0))
    table = ConnectionTable.create(2)
    yield sock, table
    sock.close()
    table.close()


def _process(sock: socket.socket, table: ConnectionTable, slot: int) -> GatedListener:
    gated = GatedListener(sock.dup(), peers=Peers(table, slot))
    gated.setblocking(False)  # as waitress sets it
    return gated


def _connect(sock: socket.socket) -> socket.socket:
    return socket.create_connection(sock.getsockname(), timeout=5)


def test_a_table_counts_each_running_process_and_leaves_out_the_absent(shared):
    _, table = shared
    assert table.read() == [ABSENT, ABSENT]
    assert table.lightest_other(1) is None
    table.write(2, 3)
    assert table.lightest_other(1) == 3
    assert table.lightest_other(2) is None
    attached = ConnectionTable.attach(os.dup(table.fd))  # as a child sees it from its inherited descriptor
    assert attached.read() == [ABSENT, 3]
    attached.close()


def test_each_process_publishes_the_connections_it_holds(shared):
    sock, table = shared
    first, second = _process(sock, table, 1), _process(sock, table, 2)
    assert table.read() == [0, 0]
    client = _connect(sock)
    accepted, _ = first.accept()
    assert table.read() == [1, 0]
    accepted.close()
    assert table.read() == [0, 0]
    client.close()
    first.close()
    second.close()


def test_a_busier_process_leaves_a_new_connection_to_the_lighter_one(shared, monkeypatch):
    sock, table = shared
    busy, idle = _process(sock, table, 1), _process(sock, table, 2)
    clients = [_connect(sock)]
    held, _ = busy.accept()  # busy holds one, idle none
    taken = []
    monkeypatch.setattr(listener.time, "sleep", lambda seconds: taken.append(idle.accept()))
    clients.append(_connect(sock))
    with pytest.raises(BlockingIOError):  # waitress reads this as "nothing to accept"
        busy.accept()
    assert len(taken) == 1
    assert table.read() == [1, 1]
    for conn in [held, taken[0][0], *clients, busy, idle]:
        conn.close()


def test_a_busier_process_still_takes_a_connection_no_lighter_process_took(shared, monkeypatch):
    sock, table = shared
    busy, stuck = _process(sock, table, 1), _process(sock, table, 2)
    clients = [_connect(sock)]
    held, _ = busy.accept()
    pauses = []
    monkeypatch.setattr(listener.time, "sleep", pauses.append)
    clients.append(_connect(sock))
    second, _ = busy.accept()  # the peer never accepted: only the pause was lost, not the connection
    assert pauses == [listener.DEFER_SECONDS]
    assert table.read() == [2, 0]
    for conn in [held, second, *clients, busy, stuck]:
        conn.close()


def test_processes_holding_as_many_connections_take_new_ones_without_a_pause(shared, monkeypatch):
    sock, table = shared
    first, second = _process(sock, table, 1), _process(sock, table, 2)
    pauses = []
    monkeypatch.setattr(listener.time, "sleep", pauses.append)
    clients = [_connect(sock)]
    held, _ = first.accept()
    table.write(2, ABSENT)  # the other process died: nobody to leave it to
    clients.append(_connect(sock))
    again, _ = first.accept()
    assert pauses == []
    for conn in [held, again, *clients, first, second]:
        conn.close()


def test_the_master_gives_each_child_its_slot_and_marks_a_dead_childs_slot_absent(tmp_path):
    sock = socket.create_server(("127.0.0.1", 0))
    # the "child" records its arguments and exits at once, as a child that dies
    record = tmp_path / "argv"
    command = [sys.executable, "-c", "import os, sys; from hub.listener import ConnectionTable; "
               "table = ConnectionTable.attach(int(sys.argv[sys.argv.index('--connections-fd') + 1])); "
               f"open({str(record)!r}, 'a').write(' '.join(sys.argv[1:]) + ' slots ' + str(table.slots))"]
    keeper = ChildProcesses(command, 2, sock, grace=1.0)
    child = keeper.children[0]
    keeper._start(child)
    child.process.wait(10)
    keeper.connections.write(child.slot, 5)
    keeper._tend(child)  # sees it dead: its slot leaves the comparison; restarts it later
    assert keeper.connections.read()[0] == ABSENT
    arguments = record.read_text().split()
    assert arguments[arguments.index("--slot") + 1] == "1"
    assert arguments[-2:] == ["slots", "2"]  # the child opened the master's table from the descriptor it got
    keeper.stop_all()
    sock.close()
