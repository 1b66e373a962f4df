"""Ports picked for processes started later (the demo stack, tests): free now, and out of the way.

Free when picked is all a pick can promise: the process it is for binds it later, and the
stack picks again when one was taken meanwhile (``Stack``'s port attempts).
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

from hub.errors import ConfigError

#: the lowest port :func:`free_port` picks: above the registered services most machines run
LOWEST_PICKED_PORT = 10_000
_PICKER = random.SystemRandom()  # not the module's generator: a test seeding that must not make picks collide


def ephemeral_port_start() -> int | None:
    """The first port of the kernel's range for outgoing connections' local ports; None where unknown."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port(room: int = 0) -> int:
    """A port nothing listens on now (and ``room`` more free above it), for a process started later to bind.

    Free when picked is all a pick can promise. Picked at random below the kernel's range for outgoing
    connections (on Linux) rather than by binding port 0, which takes one from that range: there every
    connection to RabbitMQ, PostgreSQL or a simulator made before the process binds may take the port,
    where below it only another pick can, at random among thousands.
    """
    start = ephemeral_port_start()
    for _ in range(50 if start and start - room > LOWEST_PICKED_PORT + 1_000 else 0):
        port = _PICKER.randrange(LOWEST_PICKED_PORT, start - room)
        if _bindable(port):
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int) -> int:
    """A base N such that N+1 … N+size are all free (for ``rabt simulate --port-base``)."""
    for _ in range(50):
        base = free_port(room=size)
        try:
            probes = [socket.create_server(("127.0.0.1", base + offset)) for offset in range(1, size + 1)]
        except OSError:
            continue
        for probe in probes:
            probe.close()
        return base
    raise ConfigError("no block of free ports found for the simulators")
