"""Ports picked for processes started later: free, and out of the way of outgoing connections."""

from __future__ import annotations

import random
import socket

import pytest

from simulators.demo import ports


def _bind(port: int) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))


def test_a_picked_port_is_free_and_below_the_range_outgoing_connections_take_theirs_from():
    start = ports.ephemeral_port_start()
    if start is None:
        pytest.fail("this test runs where the kernel says its range for outgoing connections (Linux)")
    for _ in range(20):
        port = ports.free_port()
        assert ports.LOWEST_PICKED_PORT <= port < start
        _bind(port)


def test_a_block_leaves_room_for_every_port_above_its_base():
    base = ports.free_port_block(7)
    start = ports.ephemeral_port_start()
    assert start is None or base + 7 < start
    for offset in range(1, 8):
        _bind(base + offset)


def test_a_port_taken_since_is_not_picked(monkeypatch):
    with socket.create_server(("127.0.0.1", ports.free_port())) as taken:
        picks = iter([taken.getsockname()[1]])
        real = ports._PICKER.randrange
        monkeypatch.setattr(ports._PICKER, "randrange", lambda low, high: next(picks, None) or real(low, high))
        port = ports.free_port()
        assert port != taken.getsockname()[1]
        _bind(port)


def test_seeding_the_module_generator_does_not_repeat_picks():
    picked = set()
    for _ in range(5):
        random.seed(2026)  # as a test elsewhere in the same worker may
        picked.add(ports.free_port())
    assert len(picked) > 1


def test_without_the_kernel_range_the_system_picks(monkeypatch):
    monkeypatch.setattr(ports, "ephemeral_port_start", lambda: None)
    _bind(ports.free_port())
