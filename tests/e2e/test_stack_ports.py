"""The demo's stack picks free ports, and another program may bind one before its process does.

``rabt demo`` (and every end-to-end test and benchmark) starts its processes on
ports that were free when picked. On a busy machine — two stacks started side by
side, any server starting — a port can be taken in between; the suite once saw
``rabt demo`` fail with "Address already in use" from a simulator. The stack
now sees from the process's own log that its port was taken and starts that
step again on other ports. Here a port it picks is held by a listening socket,
for the simulators and for the hub's gateway.
"""

from __future__ import annotations

import socket

import pytest
import requests

from simulators.demo import stack as stack_module
from simulators.demo.stack import Stack

pytestmark = [pytest.mark.long_running, pytest.mark.timeout(180)]


def _listening() -> socket.socket:
    return socket.create_server(("127.0.0.1", 0))


def test_ports_taken_after_they_were_picked_are_picked_again(tmp_path, monkeypatch, capsys):
    taken_simulator, taken_gateway = _listening(), _listening()
    insurance_offset = stack_module.SIMULATOR_OFFSETS["insurance"]
    real_block, real_port = stack_module.free_port_block, stack_module.free_port
    stack = Stack(home=tmp_path / "home", broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}", workers=200)
    blocks = iter([taken_simulator.getsockname()[1] - insurance_offset])
    gateway_ports = iter([taken_gateway.getsockname()[1]])

    def port(room: int = 0) -> int:  # the taken one for the gateway's first pick (free_port_block picks with it too)
        return (next(gateway_ports, None) if "simulators" in stack.processes else None) or real_port(room)

    monkeypatch.setattr(stack_module, "free_port_block", lambda size: next(blocks, None) or real_block(size))
    monkeypatch.setattr(stack_module, "free_port", port)
    try:
        with taken_simulator, taken_gateway:
            stack.start()
            insurance_url, gateway_url = stack.urls["insurance"], stack.urls["gateway"]
            assert not insurance_url.endswith(f":{taken_simulator.getsockname()[1]}")
            assert not gateway_url.endswith(f":{taken_gateway.getsockname()[1]}")
            assert requests.get(f"{insurance_url}/healthz", timeout=5).status_code == 200
            assert requests.get(f"{gateway_url}/healthz", timeout=5).status_code == 200
        said = capsys.readouterr().err
        assert "another program took the port picked for simulators; starting simulators again" in said, said
        assert "another program took the port picked for hub; starting hub, licensing, licensing-consumer again" in said
        # the processes of the failed attempts were stopped, not left beside the ones now running
        assert sorted(stack.processes) == ["hub", "licensing", "licensing-consumer", "simulators"]
    finally:
        codes = stack.stop()
    assert set(codes.values()) <= {0, -15}, codes


def test_a_process_failing_for_another_reason_is_not_started_again(tmp_path, capsys):
    """Only a taken port is worth another attempt: any other failure is reported as it was."""
    stack = Stack(home=tmp_path / "home", broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}", workers=-5)
    try:
        with pytest.raises(stack_module.ConfigError, match="simulators exited"):
            stack.start()
    finally:
        stack.stop()
    assert "again on other ports" not in capsys.readouterr().err
