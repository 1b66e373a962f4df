"""Running the licensing reference system: ``python -m simulators.licensing serve|consume|statistics``.

``serve`` runs the web app (applications decided by asking agencies through
the hub when ``RABT_BROKER_URL`` is set); ``consume`` runs the worker that
applies what the hub delivers on the ``licensing`` queue and answers visa
checks, signing its answers with the ``licensing`` key of ``rabt pki init``;
``statistics`` publishes the open-data statistics, signed by the hub, once or
on a schedule (:mod:`simulators.licensing.open_data`).
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from hub.config import Settings
from hub.errors import RabtError
from hub.logs import configure_logging, log_format_option
from hub.outage import Watch
from hub.roles import settle_garbage_collector
from hub.signing import Signer, TrustStore
from simulators.licensing.config import LicensingConfig
from simulators.licensing.consumer import LicensingConsumer
from simulators.licensing.hub_link import SYSTEM, consume_until_stopped, hub_verifier, licensing_seal
from simulators.licensing.receipt_store import ReceiptStore
from simulators.licensing.receipts import ReceiptSender
from simulators.licensing.state import LicensingState


def build_consumer(config: LicensingConfig, transport, state: LicensingState | None = None,
                   receipts: ReceiptSender | None = None) -> LicensingConsumer:
    """Production wiring of the queue worker (bootstrap): database, hub verifier, own signer.

    Consumer threads pass one shared ``state``, so their messages share commits,
    and one shared ``receipts`` sender, which tells the hub what each commit did.
    """
    verify = hub_verifier(TrustStore.load(config.pki_dir))
    return LicensingConsumer(state or LicensingState(config.effective_database_url), verify,
                             transport=transport, seal=licensing_seal(config.pki_dir), receipts=receipts)


def receipt_sender(config: LicensingConfig, settings: Settings, state: LicensingState,
                   routes) -> ReceiptSender | None:
    """A started sender of signed DeliveryReceipts to the hub, told of every window ``state`` commits.

    None, said once in the log, when the routes give the hub no queue (the receipts would be unroutable).
    """
    from hub.errors import ConfigError
    from hub.receipts import HUB
    from hub.transports import open_transport

    try:
        routes.queue_for(HUB)
    except ConfigError:
        logging.getLogger(__name__).warning("routes name no %r destination: licensing sends no delivery receipts",
                                            HUB)
        return None
    url = settings.effective_broker_url
    # outcomes kept in licensing's database with the window that applied them: a crash before the receipt
    # goes out delays it to the next start, and loses none
    sender = ReceiptSender(lambda: open_transport(url, routes=routes), licensing_seal(config.pki_dir),
                           store=ReceiptStore(state.engine))
    sender.attach(state.windows)
    return sender.start()


def default_threads(broker_url: str) -> int:
    """Consumer threads ``consume`` runs unless told: 2 on RabbitMQ, 8 on the embedded SQLite broker.

    On RabbitMQ a thread queues its changes and commits them once per ack
    (:meth:`LicensingConsumer.settle`), so it is rarely held up by a commit:
    two threads answer visa checks as fast as eight, with less CPU per check
    (fewer wake-ups, acks and commits). The SQLite broker acks a delivery
    once its handler returns, so each thread waits for its commit, and eight
    threads share them.
    """
    return 2 if broker_url.startswith("amqp") else 8


def consume_in_threads(config: LicensingConfig, settings: Settings, threads: int, *,
                       max_messages: int | None = None, idle_timeout: float | None = None,
                       stop: threading.Event) -> int:
    """``threads`` consumers, each with its own transport, applying through one state: how many handled.

    Each thread's deliveries wait in the state's window applier while another
    thread's commit runs, so commits are shared, and each is durable before
    any of its deliveries is acked (on RabbitMQ a thread queues its changes and
    waits for them once per ack: :meth:`LicensingConsumer.settle`). A broker outage is waited out, however
    long; any other failure of one consumer stops the others and its error is
    raised here (the process exits and is restarted).
    """
    from hub.routing import load_routes
    from hub.transports import open_transport

    routes = load_routes(settings.routes_file)
    state = LicensingState(config.effective_database_url)
    receipts = receipt_sender(config, settings, state, routes)
    handled, errors = [0] * threads, []
    watch = Watch(SYSTEM, "broker")

    def run(index: int) -> None:
        try:
            with open_transport(settings.effective_broker_url) as transport:
                consumer = build_consumer(config, transport, state, receipts)
                # waits out broker outages, however long; the threads tell one once, through a shared watch
                handled[index] = consume_until_stopped(transport, routes, consumer, stop, watch=watch,
                                                       max_messages=max_messages, idle_timeout=idle_timeout)
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread
            errors.append(exc)
        finally:
            stop.set()

    workers = [threading.Thread(target=run, args=(i,), name=f"licensing-consumer-{i}") for i in range(threads)]
    settle_garbage_collector()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if receipts is not None:
        receipts.close()
    if errors:
        raise errors[0]
    return sum(handled)


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

    app = create_app(config)
    settle_garbage_collector()
    run_simple(host, port, app, threaded=True)


@licensing.command()
@click.option("--max-messages", type=int, default=None, help="Stop after this many deliveries.")
@click.option("--idle-timeout", type=float, default=None, help="Stop after this many idle seconds.")
@click.option("--threads", type=click.IntRange(1, 32), default=None,
              help="Consumer threads sharing commits (one with --max-messages, which it counts exactly); "
                   "default 2 on RabbitMQ, 8 on the embedded SQLite broker.")
@log_format_option
@click.pass_obj
def consume(config: LicensingConfig, max_messages: int | None, idle_timeout: float | None, threads: int | None,
            log_format: str) -> None:
    """Apply what the hub delivers on the licensing queue until Ctrl-C."""
    configure_logging("licensing-consumer", log_format)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = Settings.from_env()
    threads = 1 if max_messages else threads or default_threads(settings.effective_broker_url)
    try:
        handled = consume_in_threads(config, settings, threads, max_messages=max_messages,
                                     idle_timeout=idle_timeout, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        handled = None
    click.echo(f"licensing: {handled if handled is not None else 'stopped;'} message(s) handled")


@licensing.command()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Publication root (default: RABT_HOME/open-data); each run adds a statistics-<time> folder.")
@click.option("--every", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Publish again every this many seconds until SIGTERM (0: once).")
@click.pass_obj
def statistics(config: LicensingConfig, out: Path | None, every: float) -> None:
    """Publish licensing's statistics (no personal data, small counts withheld) as signed open data."""
    from simulators.licensing.open_data import population_governorates
    from simulators.licensing.publication import publish

    signer = Signer(TrustStore.load(config.pki_dir).hub)  # the hub signs what is published
    state, governorates, root = LicensingState(config.effective_database_url), population_governorates(), \
        out or config.home / "open-data"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while True:
        published = publish(state, root, signer, governorates)
        click.echo(f"published {len(published.files)} files in {published.folder}")
        if not every or stop.wait(every):
            break


def main() -> None:
    """Entry point: hub errors become one line on stderr and exit status 1."""
    try:
        licensing(standalone_mode=True)
    except RabtError as exc:
        click.echo(f"licensing: {exc}", err=True)
        raise SystemExit(1) from exc
