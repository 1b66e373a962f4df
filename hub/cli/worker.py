"""``rabt worker [AGENCY…]``: run the outbound SOAP workers until SIGTERM / Ctrl-C.

One consumer thread per adapter (default: every adapter with outbound
services whose endpoints are configured). Endpoint URLs come from the
variables the adapters name (``RABT_POLICE_CIVIL_REGISTRY_URL``, …), read once
here. SIGTERM or Ctrl-C sets the stop event: each worker finishes the message
in hand, acks it and closes its connections. ``--metrics-port`` serves this
process's counters and circuit states (``/metrics``, viewer token) and
``/healthz``.
"""

from __future__ import annotations

import click

from hub.config import Settings
from hub.logs import configure_logging, log_format_option
from hub.preflight import declare_topology
from hub.redact import redact_url


@click.command()
@click.argument("agencies", nargs=-1)
@click.option("--prefetch", type=int, default=2, show_default=True,
              help="Deliveries each worker holds at a time (agency calls are slow; keep it small).")
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds a worker may take to finish its message after SIGTERM.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve this process's /metrics (viewer token) and /healthz on this port; 0 picks a free one.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port.")
@log_format_option
@click.pass_obj
def worker(settings: Settings, agencies: tuple[str, ...], prefetch: int, grace: float, metrics_port: int | None,
           metrics_host: str, log_format: str) -> None:
    """Answer canonical queries by calling the agencies (police, commerce, insurance, courts…)."""
    from hub.bootstrap import bootstrap, outbound_worker_loops
    from hub.roles import settle_garbage_collector
    from hub.serve import Role, Supervisor, metrics_role

    configure_logging("worker", log_format)
    hub = bootstrap(settings)
    try:
        declare_topology(hub)  # a wrong broker URL is one line now, not a minute of retries
        loops = outbound_worker_loops(hub, agencies, prefetch=prefetch)
        if not loops:
            raise click.ClickException("no outbound worker to run: set the agencies' endpoint URLs "
                                       "(e.g. RABT_POLICE_CIVIL_REGISTRY_URL) or name an agency")
        settle_garbage_collector()
        supervisor = Supervisor()
        supervisor.install_signal_handlers()
        for name, loop in loops:
            supervisor.start(Role(f"worker-{name}", loop))
            click.echo(f"worker {name}: consuming {hub.routes.queue_for(name)}", err=True)
        if metrics_port is not None:
            role = metrics_role(hub, metrics_host, metrics_port)
            supervisor.start(Role("metrics", role.run))
            click.echo(f"metrics listening on {role.endpoint.url}/metrics", err=True)
        click.echo(f"broker {redact_url(settings.effective_broker_url)}; SIGTERM or Ctrl-C to stop", err=True)
        supervisor.wait(grace)  # a crashed worker is restarted (hub.roles); only SIGTERM or SIGINT ends this
    finally:
        hub.close()
