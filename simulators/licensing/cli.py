"""Running the licensing reference system: ``python -m simulators.licensing serve|consume``.

``serve`` runs the web app (applications decided by asking agencies through
the hub when ``RABT_BROKER_URL`` is set); ``consume`` runs the worker that
applies what the hub delivers on the ``licensing`` queue and answers visa
checks, signing its answers with the ``licensing`` key of ``rabt pki init``.
"""

from __future__ import annotations

import signal
import threading

import click

from hub.config import Settings
from hub.errors import RabtError
from hub.signing import TrustStore
from simulators.licensing.config import LicensingConfig
from simulators.licensing.consumer import LicensingConsumer
from simulators.licensing.hub_link import consume_until_stopped, hub_verifier, licensing_seal
from simulators.licensing.state import LicensingState


def build_consumer(config: LicensingConfig, transport) -> LicensingConsumer:
    """Production wiring of the queue worker (bootstrap): database, hub verifier, own signer."""
    verify = hub_verifier(TrustStore.load(config.pki_dir))
    return LicensingConsumer(LicensingState(config.effective_database_url), verify,
                             transport=transport, seal=licensing_seal(config.pki_dir))


@click.group()
@click.pass_context
def licensing(ctx: click.Context) -> None:
    """The labour-licensing reference system (the hub's consumer)."""
    ctx.obj = LicensingConfig.from_env()


@licensing.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8100, show_default=True)
@click.pass_obj
def serve(config: LicensingConfig, host: str, port: int) -> None:
    """Run the web page and JSON API."""
    from werkzeug.serving import run_simple

    from simulators.licensing.app import create_app

    run_simple(host, port, create_app(config), threaded=True)


@licensing.command()
@click.option("--max-messages", type=int, default=None, help="Stop after this many deliveries.")
@click.option("--idle-timeout", type=float, default=None, help="Stop after this many idle seconds.")
@click.pass_obj
def consume(config: LicensingConfig, max_messages: int | None, idle_timeout: float | None) -> None:
    """Apply what the hub delivers on the licensing queue until Ctrl-C."""
    from hub.routing import load_routes
    from hub.transports import open_transport

    settings = Settings.from_env()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open_transport(settings.effective_broker_url) as transport:
        consumer = build_consumer(config, transport)
        try:
            handled = consume_until_stopped(transport, load_routes(settings.routes_file), consumer.handle, stop,
                                            max_messages=max_messages, idle_timeout=idle_timeout)
        except KeyboardInterrupt:
            handled = None
    click.echo(f"licensing: {handled if handled is not None else 'stopped;'} message(s) handled")


def main() -> None:
    """Entry point: hub errors become one line on stderr and exit status 1."""
    try:
        licensing(standalone_mode=True)
    except RabtError as exc:
        click.echo(f"licensing: {exc}", err=True)
        raise SystemExit(1) from exc
