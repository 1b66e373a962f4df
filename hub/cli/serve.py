"""``rabt serve``: run the hub (all roles, or the ones named) until SIGTERM."""

from __future__ import annotations

import os

import click

from hub.config import Settings
from hub.logs import configure_logging, log_format_option
from hub.preflight import declare_topology
from hub.redact import redact_url
from hub.serve import ROLES, Supervisor, WsgiRole, metrics_role, relay_loop

GATEWAY_THREADS = 16


def _proxy_config() -> dict:
    """The reverse proxy's settings (RABT_PUBLIC_URL, RABT_TRUSTED_PROXY_HOPS), until Settings carries them."""
    try:
        hops = int(os.environ.get("RABT_TRUSTED_PROXY_HOPS") or 0)
    except ValueError as exc:
        raise click.ClickException(f"RABT_TRUSTED_PROXY_HOPS must be a whole number: {exc}") from exc
    return {"PUBLIC_URL": os.environ.get("RABT_PUBLIC_URL") or None, "TRUSTED_PROXY_HOPS": hops}


def _start_roles(hub, supervisor: Supervisor, roles: tuple[str, ...], host: str, gateway_port: int,
                 console_port: int, grace: float) -> list:
    endpoints = []
    if "gateway" in roles:
        from hub.gateway import create_app

        # Half the threads may wait for request/reply answers; the rest stay free for one-way pushes.
        # Up to twice the XML limit the gateway itself answers an oversize request with a SOAP Fault.
        app = create_app(hub, {"MAX_WAITING_REPLIES": GATEWAY_THREADS // 2, **_proxy_config()})
        gateway = WsgiRole("gateway", app, host, gateway_port, threads=GATEWAY_THREADS, grace=grace,
                           max_body=2 * hub.settings.xml_limits.max_bytes)
        supervisor.start("gateway", gateway.run)
        endpoints.append(gateway.endpoint)
    if "relay" in roles:
        supervisor.start("relay", relay_loop(hub))
    if "worker" in roles:
        from hub.outbound import worker_loops

        for name, loop in worker_loops(hub):
            supervisor.start(f"worker-{name}", loop)
    if "watcher" in roles:
        from hub.filedrop import watcher_loop

        supervisor.start("watcher", watcher_loop(hub))
    if "console" in roles:
        from hub.console import create_app as create_console
        from hub.proxies import trust_proxies

        console_app = trust_proxies(create_console(hub), _proxy_config()["TRUSTED_PROXY_HOPS"])
        console = WsgiRole("console", console_app, host, console_port, grace=grace)
        supervisor.start("console", console.run)
        endpoints.append(console.endpoint)
    return endpoints


@click.command()
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES),
              help="Role to run (repeatable); default: all of them in this process.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--gateway-port", type=int, default=8000, show_default=True, help="0 picks a free port.")
@click.option("--console-port", type=int, default=8080, show_default=True, help="0 picks a free port.")
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds each role may take to finish in-flight work after SIGTERM.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Without the console role: serve this process's /metrics (viewer token) and /healthz here.")
@log_format_option
@click.pass_obj
def serve(settings: Settings, roles: tuple[str, ...], host: str, gateway_port: int, console_port: int,
          grace: float, metrics_port: int | None, log_format: str) -> None:
    """Run the hub: gateway, relay, outbound workers, file watchers and console."""
    from hub.bootstrap import bootstrap

    configure_logging("serve", log_format)
    hub = bootstrap(settings)
    declare_topology(hub)  # the hub owns the topology: declared before any role consumes; one line if it cannot
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    endpoints = _start_roles(hub, supervisor, roles or ROLES, host, gateway_port, console_port, grace)
    if metrics_port is not None:
        role = metrics_role(hub, host, metrics_port)
        supervisor.start("metrics", role.run)
        endpoints.append(role.endpoint)
    for endpoint in endpoints:
        click.echo(f"{endpoint.role} listening on {endpoint.url}", err=False)
    click.echo(f"rabt serving roles {', '.join(roles or ROLES)} (broker {redact_url(settings.effective_broker_url)}); "
               "SIGTERM to stop", err=True)
    supervisor.wait(grace)
    hub.close()
    if supervisor.failures:
        raise click.ClickException("; ".join(supervisor.failures))
