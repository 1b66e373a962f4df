"""The whole system as separate processes on one machine: simulators, hub, licensing.

Used by ``rabt demo`` and by the end-to-end tests. Every process is a real
``rabt`` / ``python -m`` command talking real HTTP and the real broker; the
stack only picks free ports, sets the environment and waits until each
process answers. Each process is tied to the one that started the stack
(:mod:`hub.lifeline`): it gets SIGTERM should that one die without stopping it.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from hub import lifeline
from hub.errors import ConfigError
from hub.routing import Routes, load_routes
from hub.transports import open_transport, transport_class
from simulators.demo.ports import free_port, free_port_block
from simulators.registry import SIMULATORS

#: simulator name → the SOAP service paths its adapters call, by endpoint setting
SIMULATOR_OFFSETS = {"police": 1, "commerce": 2, "insurance": 3, "courts": 4}

#: short retries so a dead letter happens within a demo minute; the prefix keeps a demo
#: on a shared RabbitMQ out of the queues of a hub deployed there
DEMO_ROUTES = """
exchange = "rabt.canonical"
queue_prefix = "{prefix}"
retry_delays = [0.5, 1, 2]
max_attempts = 3
destinations = ["licensing", "police", "commerce", "insurance", "centralbank", "courts", "hub"]

[subscriptions]
WorkerDataCorrected = ["police", "insurance"]
"""

#: circuit breakers on the same compressed clock as DEMO_ROUTES' retries
DEMO_OUTBOUND = {"RABT_OUTBOUND_BREAKER_RESET": "1", "RABT_OUTBOUND_BACKOFF": "0.1"}
#: the TSA simulator's certificate, as the stack fetched it for the hub to pin (under ``home``)
TSA_CERTIFICATE = "tsa.pem"
#: how many times the stack picks new ports when another program took one it picked
PORT_ATTEMPTS = 5
#: what a process started here writes when its port is taken: ``rabt`` (hub.cli.failures), werkzeug
PORT_TAKEN_SAYS = ("address already in use", "Address already in use", "is in use by another program")


@dataclass
class Stack:
    """Processes of one running system and where each listens."""

    home: Path
    broker_url: str
    seed: int = 2026
    workers: int = 2000
    database_url: str = ""
    """The hub's message log (``RABT_DATABASE_URL``); empty: SQLite under ``home``."""
    queue_prefix: str = "rabt-demo."
    """Before the exchange and queue names on the broker: tests give each run its own."""
    split_roles: bool = False
    """Run each ``rabt serve`` role in a process of its own, as on several machines."""
    stamp_interval: float = 2.0
    """Seconds between the hub's anchors and their stamps (``RABT_TSA_INTERVAL``): short, so a demo sees them."""
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    _log_starts: dict[str, int] = field(default_factory=dict, repr=False)

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "RABT_HOME": str(self.home), "RABT_BROKER_URL": self.broker_url,
               "RABT_ROUTES_FILE": str(self.home / "routes.toml"), "PYTHONUNBUFFERED": "1",
               # the demo's clock runs fast (retries in seconds): an open circuit tries again as soon
               **DEMO_OUTBOUND}
        if self.database_url:
            env["RABT_DATABASE_URL"] = self.database_url
        if "tsa" in self.urls:
            env.update(RABT_TSA_URL=f"{self.urls['tsa']}/", RABT_TSA_CERTIFICATE=str(self.home / TSA_CERTIFICATE),
                       RABT_TSA_INTERVAL=str(self.stamp_interval), RABT_TSA_GRACE=str(5 * self.stamp_interval))
        for name in SIMULATOR_OFFSETS:
            env.update(endpoint_settings(name, self.urls.get(name, "")))
        return env

    def routes(self) -> Routes:
        """The stack's topology, written to ``home/routes.toml`` for its processes."""
        self.home.mkdir(parents=True, exist_ok=True)
        path = self.home / "routes.toml"
        path.write_text(DEMO_ROUTES.format(prefix=self.queue_prefix), encoding="utf-8")
        return load_routes(path)

    def remove_topology(self) -> None:
        """Delete this stack's exchange and queues on RabbitMQ, messages and dead letters included.

        (The embedded broker is a file under ``home``: a fresh run simply starts without it.)
        """
        routes = self.routes()
        if not transport_class(self.broker_url).capabilities.shared_server:
            return
        with open_transport(self.broker_url, routes=routes) as transport:
            transport.undeclare(routes)

    def start(self) -> Stack:
        """pki, simulators, hub (all roles), licensing web app and consumer — then wait for each."""
        self.routes()
        self.log_dir = self.log_dir or self.home / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._run_once([sys.executable, "-m", "hub", "pki", "init"])
        self._on_free_ports(self._start_simulators)
        self._on_free_ports(self._start_hub_and_licensing)
        return self

    def _start_simulators(self) -> None:
        # a block for every simulator `rabt simulate` starts, not only those the stack talks to
        base = free_port_block(max(entry.offset for entry in SIMULATORS.values()))
        for name, offset in SIMULATOR_OFFSETS.items():
            self.urls[name] = f"http://127.0.0.1:{base + offset}"
        self._spawn("simulators", [sys.executable, "-m", "hub", "simulate", "--port-base", str(base),
                                   "--seed", str(self.seed), "--workers", str(self.workers),
                                   "--tsa-dir", str(self.home / "tsa")])
        for name in SIMULATOR_OFFSETS:
            self._wait_http(name, f"{self.urls[name]}/healthz")
        self._pin_tsa(f"http://127.0.0.1:{base + SIMULATORS['tsa'].offset}")

    def _start_hub_and_licensing(self) -> None:
        gateway, console, licensing = free_port(), free_port(), free_port()
        self.urls.update(gateway=f"http://127.0.0.1:{gateway}", console=f"http://127.0.0.1:{console}",
                         licensing=f"http://127.0.0.1:{licensing}")
        self._spawn_hub(gateway, console)
        # The web app creates licensing's database first; the consumer starts once it answers.
        self._spawn("licensing", [sys.executable, "-m", "simulators.licensing", "serve", "--port", str(licensing)])
        self._wait_http("licensing", f"{self.urls['licensing']}/healthz")
        self._spawn("licensing-consumer", [sys.executable, "-m", "simulators.licensing", "consume"])
        self._wait_http("gateway", f"{self.urls['gateway']}/healthz")

    def _on_free_ports(self, start: Callable[[], None]) -> None:
        """Run ``start`` (pick free ports, spawn, wait for answers) again while a port it picked is taken.

        A port is only free when it is picked: another program (a stack started beside this
        one, any server) can bind it before the process started here does. Whatever that
        attempt spawned is stopped before the next picks new ports.
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            before = set(self.processes)
            try:
                return start()
            except ConfigError:
                spawned = [name for name in self.processes if name not in before]
                lost = [name for name in spawned if self._lost_its_port(name)]
                if attempt == PORT_ATTEMPTS or not lost:
                    raise
                for name in spawned:
                    self._stop_process(name)
                print(f"rabt: another program took the port picked for {', '.join(lost)}; "
                      f"starting {', '.join(spawned)} again on other ports", file=sys.stderr)

    def _lost_its_port(self, name: str) -> bool:
        """Whether the process ``name`` has exited because its port was taken (as its own log says)."""
        process = self.processes[name]
        if process.poll() is None:
            return False
        with open(self.log_dir / f"{name}.log", "rb") as log:
            log.seek(self._log_starts[name])
            said = log.read().decode("utf-8", "replace")
        return any(phrase in said for phrase in PORT_TAKEN_SAYS)

    def _pin_tsa(self, url: str) -> None:
        """Wait for the TSA simulator, and keep its certificate where the hub's settings will point."""
        self._wait_http("tsa", f"{url}/healthz")
        answer = requests.get(f"{url}/certificate", timeout=5)
        answer.raise_for_status()
        (self.home / TSA_CERTIFICATE).write_bytes(answer.content)
        self.urls["tsa"] = url

    def _spawn_hub(self, gateway: int, console: int) -> None:
        """``rabt serve``: all roles in one process, or (``split_roles``) one process per role."""
        # a short drain: every role must be gone well within stop()'s wait, or it is killed
        serve = [sys.executable, "-m", "hub", "serve", "--gateway-port", str(gateway), "--console-port", str(console),
                 "--grace", "5"]
        if not self.split_roles:
            self._spawn("hub", serve)
            return
        for role in ("gateway", "relay", "worker", "watcher", "console", "stamper"):
            self._spawn(f"hub-{role}", [*serve, "--role", role])

    def _run_once(self, command: list[str]) -> None:
        result = lifeline.run(command, env=self.environment(), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ConfigError(f"{' '.join(command[2:])} failed: {result.stderr.strip()}")

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")
        self._log_starts[name] = log.tell()  # the log is kept across runs: this run's lines start here
        # each in a group of its own (stop() signals the group), and tied to this process: a run killed
        # outright (SIGKILL, a timeout) runs no stop(), yet leaves nothing running
        self.processes[name] = lifeline.popen(command, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)

    def _wait_http(self, name: str, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process_name, process in self.processes.items():
                if process.poll() is not None:
                    raise ConfigError(f"{process_name} exited with {process.returncode}; "
                                      f"see {self.log_dir / (process_name + '.log')}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise ConfigError(f"{name} did not answer at {url} within {timeout:.0f}s")

    def stop(self, grace: float = 20.0) -> dict[str, int]:
        """SIGTERM every process, then SIGKILL what is left; their exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        return {name: self._wait_or_kill(process, grace) for name, process in self.processes.items()}

    def _stop_process(self, name: str, grace: float = 20.0) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        self._wait_or_kill(process, grace)

    @staticmethod
    def _wait_or_kill(process: subprocess.Popen, grace: float) -> int:
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait()

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:  # __exit__ does not run then: stop what did start
            self.stop()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()


def endpoint_settings(agency: str, base_url: str) -> dict[str, str]:
    """Environment for the hub's outbound workers: each adapter service → the simulator's URL."""
    if not base_url:
        return {}
    from hub.registry import load_adapter

    paths = simulator_service_paths(agency)
    return {service.endpoint_setting: f"{base_url}/soap/{paths[service.wsdl]}"
            for service in load_adapter(agency).outbound}


@functools.cache
def simulator_service_paths(agency: str) -> dict[str, str]:
    """WSDL file name → the path the agency's simulator serves it at (they share the contract file)."""
    from simulators.registry import create

    app = create(agency, {"workers": 200})
    return {service.wsdl.name: service.name for service in app.extensions["rabt_simulator"]["services"]}
