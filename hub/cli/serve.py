"""``rabt serve``: run the hub (all roles, or the ones named) until SIGTERM.

With more than one gateway process (``--processes``, ``[gateway] processes``;
0 means one per core) this process is the master: it binds the gateway's port
and keeps that many gateway children on it (:mod:`hub.prefork`), and runs the
other roles itself. A child is this same command with ``--listen-fd``.
The file-drop watchers likewise (``[watcher] processes``, 0: one per core): with
more than one, the master keeps that many children of this command with
``--watcher-child``, claiming files from the same drop folders.
"""

from __future__ import annotations

import logging
import socket
import sys
from dataclasses import dataclass

import click

from hub import lifeline
from hub.config import Settings
from hub.listener import Peers
from hub.logs import configure_logging, log_format_option
from hub.preflight import declare_topology
from hub.redact import redact_url
from hub.roles import settle_garbage_collector
from hub.serve import (CONSOLE_LIMITS, ROLES, ConnectionLimits, Endpoint, Role, Supervisor, WsgiRole, metrics_role,
                       relay_loop)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listening:
    """Where the HTTP roles listen, and for how long they drain on stop."""

    host: str
    gateway_port: int
    console_port: int
    grace: float


def _proxy_config(settings: Settings) -> dict:
    """What the gateway and console must know of the reverse proxy in front of them."""
    return {"PUBLIC_URL": settings.public_url or None, "TRUSTED_PROXY_HOPS": settings.trusted_proxy_hops}


def _gateway(hub, listening: Listening, sock: socket.socket | None = None,
             peers: Peers | None = None) -> WsgiRole:
    from hub.bootstrap import gateway_app

    settings = hub.settings
    threads = settings.gateway.threads
    # waiting_replies of the threads may wait for request/reply answers; the rest stay free for pushes.
    # Up to twice the XML limit the gateway itself answers an oversize request with a SOAP Fault.
    app = gateway_app(hub, {"MAX_WAITING_REPLIES": settings.gateway.waiting_replies, **_proxy_config(settings)})
    limits = ConnectionLimits.for_gateway(settings.gateway, behind_proxy=settings.trusted_proxy_hops > 0)
    return WsgiRole("gateway", app, listening.host, listening.gateway_port, threads=threads, grace=listening.grace,
                    max_body=2 * settings.xml_limits.max_bytes, limits=limits, sock=sock, peers=peers)


#: under RABT_HOME: the gateway children's metric files, summed by the master's /metrics (emptied at each start)
METRICS_DIRECTORY = "metrics-processes"


def _gateway_processes(supervisor: Supervisor, listening: Listening, count: int, log_format: str,
                       environment: dict[str, str]):
    """The master's side of several gateway processes: bind the port, keep ``count`` children on it."""
    from hub.listener import bind_listener
    from hub.prefork import ChildProcesses

    sock = bind_listener(listening.host, listening.gateway_port)
    child = [sys.executable, "-m", "hub", "serve", "--role", "gateway", "--host", listening.host,
             "--grace", str(listening.grace), "--log-format", log_format]
    keeper = ChildProcesses(child, count, sock, grace=listening.grace, environment=environment)
    supervisor.start(Role("gateway", keeper.run))
    return keeper, Endpoint("gateway", listening.host, sock.getsockname()[1])


def _watcher_processes(supervisor: Supervisor, listening: Listening, count: int, log_format: str,
                       environment: dict[str, str]):
    """The master's side of several watcher processes: keep ``count`` children claiming from the drop folders."""
    from hub.prefork import ChildProcesses

    child = [sys.executable, "-m", "hub", "serve", "--role", "watcher", "--watcher-child",
             "--grace", str(listening.grace), "--log-format", log_format]
    keeper = ChildProcesses(child, count, None, grace=listening.grace, environment=environment, role="watcher")
    supervisor.start(Role("watcher", keeper.run))
    return keeper


def _start_roles(hub, supervisor: Supervisor, roles: tuple[str, ...], listening: Listening,
                 processes: int, log_format: str) -> list[Endpoint]:
    from hub.prefork import default_process_count
    from hub.process_metrics import share_with_children

    endpoints = []
    watchers = hub.settings.watcher.processes or default_process_count()
    children = ("gateway" in roles and processes > 1) or ("watcher" in roles and watchers > 1)
    # one metrics folder for every child (making it empties it): the master's /metrics adds theirs to its own
    environment = share_with_children(hub.settings.home / METRICS_DIRECTORY) if children else {}
    if "gateway" in roles and processes > 1:
        endpoints.append(_gateway_processes(supervisor, listening, processes, log_format, environment)[1])
    elif "gateway" in roles:
        gateway = _gateway(hub, listening)
        supervisor.start(Role("gateway", gateway.run))
        endpoints.append(gateway.endpoint)
    if "relay" in roles:
        from hub.bootstrap import receipts_loops

        supervisor.start(Role("relay", relay_loop(hub)))
        for name, loop in receipts_loops(hub):  # the hub's own bookkeeping, beside the relay
            supervisor.start(Role(name, loop))
    if "worker" in roles:
        from hub.bootstrap import outbound_worker_loops

        for name, loop in outbound_worker_loops(hub):
            supervisor.start(Role(f"worker-{name}", loop))
    if "watcher" in roles and watchers > 1:
        _watcher_processes(supervisor, listening, watchers, log_format, environment)
    elif "watcher" in roles:
        from hub.bootstrap import watcher_loops

        for name, loop in watcher_loops(hub):
            supervisor.start(Role(name, loop))
    if "console" in roles:
        endpoints.append(_console(hub, supervisor, listening))
    if "stamper" in roles:
        _stamper(hub, supervisor)
    if "retention" in roles:
        _retention(hub, supervisor)
    return endpoints


def _stamper(hub, supervisor: Supervisor) -> None:
    from hub.bootstrap import stamper_loop

    loop = stamper_loop(hub)
    if loop is None:
        # a log record, not a bare line: with --log-format json every line on stderr is one JSON object
        log.info("stamper not started: no TSA configured (RABT_TSA_URL); log anchors are not timestamped")
        return
    supervisor.start(Role("stamper", loop))


def _retention(hub, supervisor: Supervisor) -> None:
    from hub.bootstrap import retention_loop

    loop = retention_loop(hub)
    if loop is None:
        log.info("retention not started: no archive folder configured (RABT_RETENTION_FOLDER); "
                 "rabt audit archive and purge still work by hand")
        return
    supervisor.start(Role("retention", loop))


def _console(hub, supervisor: Supervisor, listening: Listening) -> Endpoint:
    from hub.bootstrap import console_app
    from hub.proxies import trust_proxies

    app = trust_proxies(console_app(hub), hub.settings.trusted_proxy_hops)
    console = WsgiRole("console", app, listening.host, listening.console_port, grace=listening.grace,
                       limits=CONSOLE_LIMITS)
    supervisor.start(Role("console", console.run))
    return console.endpoint


def _serve_child(settings: Settings, listening: Listening, listen_fd: int, peers: Peers | None = None) -> None:
    """One gateway process of several: serve on the master's socket until SIGTERM or the master is gone."""
    from hub.bootstrap import bootstrap
    from hub.prefork import parent_watch

    hub = bootstrap(settings)
    hub.trust_store.reload_on_sighup()  # a renewed partner certificate is used at once, not within seconds
    gateway = _gateway(hub, listening, socket.socket(fileno=listen_fd), peers)
    settle_garbage_collector()
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    supervisor.start(Role("gateway", gateway.run))
    supervisor.start(Role("master-watch", parent_watch(lifeline.parent())))
    supervisor.wait(listening.grace)
    hub.close()


def _serve_watcher_child(settings: Settings, listening: Listening) -> None:
    """One watcher process of several: claim and process dropped files until SIGTERM or the master is gone."""
    from hub.bootstrap import bootstrap, watcher_loops
    from hub.prefork import parent_watch

    hub = bootstrap(settings)
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    for name, loop in watcher_loops(hub):
        supervisor.start(Role(name, loop))
    supervisor.start(Role("master-watch", parent_watch(lifeline.parent(), "watcher")))
    supervisor.wait(listening.grace)
    hub.close()


@click.command()
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES),
              help="Role to run (repeatable); default: all of them (the gateway as --processes processes).")
@click.option("--host", default=None, help="Address to listen on  [default: gateway host setting, 127.0.0.1]")
@click.option("--gateway-port", type=int, default=None, help="0 picks a free port  [default: setting, 8000]")
@click.option("--console-port", type=int, default=None, help="0 picks a free port  [default: setting, 8080]")
@click.option("--processes", type=click.IntRange(0), default=None,
              help="Gateway processes sharing its port; 0: one per core  [default: setting, 0]")
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds each role may take to finish in-flight work after SIGTERM.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Without the console role: serve this process's /metrics (viewer token) and /healthz here.")
@click.option("--listen-fd", type=int, default=None, hidden=True,
              help="(A gateway child of several) serve on this inherited listening socket.")
@click.option("--connections-fd", type=int, default=None, hidden=True,
              help="(A gateway child of several) the table of the children's open connections, shared with them.")
@click.option("--slot", type=click.IntRange(1), default=None, hidden=True,
              help="(A gateway child of several) this child's slot in that table.")
@click.option("--watcher-child", is_flag=True, hidden=True,
              help="(A watcher child of several) run the file-drop watcher only, until the master is gone.")
@log_format_option
@click.pass_obj
def serve(settings: Settings, roles: tuple[str, ...], host: str | None, gateway_port: int | None,
          console_port: int | None, processes: int | None, grace: float, metrics_port: int | None,
          listen_fd: int | None, connections_fd: int | None, slot: int | None, watcher_child: bool,
          log_format: str) -> None:
    """Run the hub: gateway, relay, outbound workers, file watchers and console."""
    from hub.prefork import default_process_count

    configure_logging("gateway" if listen_fd is not None else "watcher" if watcher_child else "serve", log_format)
    listening = Listening(host or settings.gateway.host,
                          settings.gateway.port if gateway_port is None else gateway_port,
                          settings.console.port if console_port is None else console_port, grace)
    if listen_fd is not None:
        return _serve_child(settings, listening, listen_fd, _peers(connections_fd, slot))
    if watcher_child:
        return _serve_watcher_child(settings, listening)
    count = settings.gateway.processes if processes is None else processes
    _serve(settings, roles or ROLES, listening, count or default_process_count(), metrics_port, log_format)


def _peers(connections_fd: int | None, slot: int | None) -> Peers | None:
    """This child's place in the table of the gateway children's connections (None: not given)."""
    from hub.listener import ConnectionTable

    if connections_fd is None or slot is None:
        return None
    table = ConnectionTable.attach(connections_fd)
    return Peers(table, slot) if slot <= table.slots else None


def _serve(settings: Settings, roles: tuple[str, ...], listening: Listening, processes: int,
           metrics_port: int | None, log_format: str) -> None:
    from hub.bootstrap import bootstrap
    from hub.prefork import STOP_MARGIN, default_process_count

    hub = bootstrap(settings)
    hub.trust_store.reload_on_sighup()  # a renewed partner certificate is used at once, not within seconds
    declare_topology(hub)  # the hub owns the topology: declared before any role consumes; one line if it cannot
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    endpoints = _start_roles(hub, supervisor, roles, listening, processes, log_format)
    settle_garbage_collector()
    if metrics_port is not None:
        role = metrics_role(hub, listening.host, metrics_port)
        supervisor.start(Role("metrics", role.run))
        endpoints.append(role.endpoint)
    for endpoint in endpoints:
        click.echo(f"{endpoint.role} listening on {endpoint.url}", err=False)
    gateways = f", {processes} gateway processes" if "gateway" in roles and processes > 1 else ""
    watchers = settings.watcher.processes or default_process_count()
    gateways += f", {watchers} watcher processes" if "watcher" in roles and watchers > 1 else ""
    click.echo(f"rabt serving roles {', '.join(roles)}{gateways} (broker {redact_url(settings.effective_broker_url)}); "
               "SIGTERM to stop", err=True)
    supervisor.wait(listening.grace + STOP_MARGIN)  # a crashed role is restarted; only SIGTERM or SIGINT ends this
    hub.close()
