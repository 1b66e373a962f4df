"""``rabt simulate``: run agency simulators locally (a development tool).

The simulators live outside ``hub`` (dependencies point from simulators to
hub, never back), so they are imported inside the command only.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from hub.errors import ConfigError


def _port_for(entry, port_base: int | None) -> int:
    if port_base is None:
        return entry.default_port
    return 0 if port_base == 0 else port_base + entry.offset


def _start(names: tuple[str, ...], host: str, port_base: int | None, config: dict) -> list:
    from werkzeug.serving import make_server

    from simulators.registry import SIMULATORS, create, entry

    entries = [entry(name) for name in (names or tuple(SIMULATORS))]
    started = []
    for item in entries:
        app = create(item.name, config)
        port = _port_for(item, port_base)
        try:
            server = make_server(host, port, app, threaded=True)
        except (OSError, SystemExit) as exc:  # werkzeug exits when a port is taken
            for _, running, _ in started:
                running.server_close()
            raise ConfigError(f"simulator {item.name} cannot listen on {host}:{port}: {exc}") from exc
        started.append((item, server, app))
    return started


@click.command()
@click.argument("agencies", nargs=-1)
@click.option("--port-base", type=int, default=None,
              help="Listen on N+1 (police), N+2 (commerce), N+3 (insurance), N+4 (courts), "
                   "N+5 (municipality), N+6 (tsa); 0 picks free ports. Default: 8101-8106.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Population seed (same seed, same people).")
@click.option("--workers", type=int, default=None,
              help="Population size in expatriate workers (employers and citizens scale with it).")
@click.option("--tsa-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the TSA's key and certificate here (made at the first start); default: new ones each start.")
def simulate(agencies: tuple[str, ...], port_base: int | None, host: str, seed: int, workers: int | None,
             tsa_dir: Path | None) -> None:
    """Run agency simulators (police, commerce, insurance, courts, municipality, tsa; default all) until Ctrl-C."""
    from simulators.soap import population_from

    population = population_from({"seed": seed, "workers": workers})
    started = _start(agencies, host, port_base, {"population": population, "tsa_dir": tsa_dir})
    for item, server, app in started:
        threading.Thread(target=server.serve_forever, name=f"sim-{item.name}", daemon=True).start()
        for service in app.extensions["rabt_simulator"]["services"]:
            click.echo(f"{item.name:<10} http://{host}:{server.port}/soap/{service.name}?wsdl")
        if "describe" in app.extensions["rabt_simulator"]:
            click.echo(f"{item.name:<10} http://{host}:{server.port}/ {app.extensions['rabt_simulator']['describe']}")
    spec = population.spec
    click.echo(f"population seed={spec.seed} citizens={spec.citizens} workers={spec.workers} "
               f"employers={spec.employers}; fault admin at /_admin/faults; Ctrl-C to stop")
    _wait_for_stop()
    for _, server, _ in started:
        server.shutdown()
        server.server_close()


def _wait_for_stop() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
