"""``rabt serve``: run the hub (all roles, or the ones named) until SIGTERM."""

from __future__ import annotations


import click

from hub.config import Settings
from hub.logs import configure_logging, log_format_option
from hub.preflight import declare_topology
from hub.redact import redact_url
from hub.serve import CONSOLE_LIMITS, GATEWAY_LIMITS, ROLES, Role, Supervisor, WsgiRole, metrics_role, relay_loop

GATEWAY_THREADS = 16


def _proxy_config(settings: Settings) -> dict:
    """What the gateway and console must know of the reverse proxy in front of them."""
    return {"PUBLIC_URL": settings.public_url or None, "TRUSTED_PROXY_HOPS": settings.trusted_proxy_hops}


def _start_roles(hub, supervisor: Supervisor, roles: tuple[str, ...], host: str, gateway_port: int,
                 console_port: int, grace: float) -> list:
    endpoints = []
    if "gateway" in roles:
        from hub.bootstrap import gateway_app

        # Half the threads may wait for request/reply answers; the rest stay free for one-way pushes.
        # Up to twice the XML limit the gateway itself answers an oversize request with a SOAP Fault.
        app = gateway_app(hub, {"MAX_WAITING_REPLIES": GATEWAY_THREADS // 2, **_proxy_config(hub.settings)})
        gateway = WsgiRole("gateway", app, host, gateway_port, threads=GATEWAY_THREADS, grace=grace,
                           max_body=2 * hub.settings.xml_limits.max_bytes, limits=GATEWAY_LIMITS)
        supervisor.start(Role("gateway", gateway.run))
        endpoints.append(gateway.endpoint)
    if "relay" in roles:
        supervisor.start(Role("relay", relay_loop(hub)))
    if "worker" in roles:
        from hub.bootstrap import outbound_worker_loops

        for name, loop in outbound_worker_loops(hub):
            supervisor.start(Role(f"worker-{name}", loop))
    if "watcher" in roles:
        from hub.bootstrap import watcher_loops

        for name, loop in watcher_loops(hub):
            supervisor.start(Role(name, loop))
    if "console" in roles:
        from hub.bootstrap import console_app
        from hub.proxies import trust_proxies

        app = trust_proxies(console_app(hub), hub.settings.trusted_proxy_hops)
        console = WsgiRole("console", app, host, console_port, grace=grace, limits=CONSOLE_LIMITS)
        supervisor.start(Role("console", console.run))
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
    hub.trust_store.reload_on_sighup()  # a renewed partner certificate is used at once, not within seconds
    declare_topology(hub)  # the hub owns the topology: declared before any role consumes; one line if it cannot
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    endpoints = _start_roles(hub, supervisor, roles or ROLES, host, gateway_port, console_port, grace)
    if metrics_port is not None:
        role = metrics_role(hub, host, metrics_port)
        supervisor.start(Role("metrics", role.run))
        endpoints.append(role.endpoint)
    for endpoint in endpoints:
        click.echo(f"{endpoint.role} listening on {endpoint.url}", err=False)
    click.echo(f"rabt serving roles {', '.join(roles or ROLES)} (broker {redact_url(settings.effective_broker_url)}); "
               "SIGTERM to stop", err=True)
    supervisor.wait(grace)  # a crashed role is restarted (hub.roles); only SIGTERM or SIGINT ends this
    hub.close()
