"""``rabt queues`` and ``rabt dlq``: queue depths, dead letters, replay.

Both open the configured broker (``RABT_BROKER_URL``, else the embedded SQLite
broker under ``RABT_HOME``), declare the routes from ``routes.toml`` (an
idempotent no-op when they exist) and act through the Transport interface, so
they work the same on RabbitMQ and SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict

import click

from hub.cli.progress import progress_option, wants_progress
from hub.config import Settings
from hub.errors import RabtError
from hub.routing import load_routes
from hub.transports import Transport, open_transport, transport_class
from hub.transports.base import DeadLetterNotFoundError

_url_option = click.option("--broker-url", metavar="URL",
                           help="Broker (default: RABT_BROKER_URL, else SQLite under RABT_HOME).")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _open(settings: Settings, broker_url: str | None) -> Transport:
    url = broker_url or settings.effective_broker_url
    # an operator command should fail in seconds, not wait a minute for the broker
    opts = {"reconnect_timeout": 5.0} if transport_class(url).capabilities.reconnect_timeout else {}
    routes = load_routes()
    transport = open_transport(url, routes=routes, **opts)
    try:
        transport.declare(routes)
    except BaseException:
        transport.close()
        raise
    return transport


@click.command("queues")
@_url_option
@_json_option
@click.pass_obj
def queues(settings: Settings, broker_url: str | None, as_json: bool) -> None:
    """Depth, consumers and dead letters of every work queue."""
    with _open(settings, broker_url) as transport:
        stats = transport.queue_stats()
    if as_json:
        click.echo(json.dumps([asdict(s) for s in stats], indent=2))
        return
    click.echo(f"{'queue':<24} {'ready':>8} {'unacked':>8} {'consumers':>9} {'dead':>6}")
    for s in stats:
        unacked = "-" if s.unacked is None else s.unacked
        click.echo(f"{s.name:<24} {s.ready:>8} {unacked:>8} {s.consumers:>9} {s.dead_letters:>6}")


@click.group("dlq")
def dlq() -> None:
    """Dead letters: list, replay, discard."""


@dlq.command("list")
@click.option("--queue", metavar="NAME", help="Only this work queue's dead letters.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@_url_option
@_json_option
@click.pass_obj
def list_(settings: Settings, queue: str | None, limit: int, broker_url: str | None, as_json: bool) -> None:
    """Dead letters with the reason, error code and attempts."""
    with _open(settings, broker_url) as transport:
        letters = transport.dead_letters(queue, limit)
    if as_json:
        click.echo(json.dumps([_letter_json(d) for d in letters], indent=2))
        return
    for d in letters:
        when = dt.datetime.fromtimestamp(d.dead_lettered_at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{d.id}  {d.queue}  {d.message_id}  {when}  attempts={d.attempts}  [{d.code}] {d.reason}")
    click.echo(f"{len(letters)} dead letter(s)", err=True)


def _letter_json(d) -> dict:
    m = d.message
    return {"id": d.id, "queue": d.queue, "message_id": d.message_id, "reason": d.reason, "code": d.code,
            "attempts": d.attempts, "dead_lettered_at": d.dead_lettered_at, "routing_key": m.routing_key,
            "correlation_id": m.correlation_id, "headers": dict(m.headers), "size": len(m.body)}


@dlq.command("replay")
@click.argument("dead_letter_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (of --queue, or all queues).")
@click.option("--queue", metavar="NAME", help="With --all: only this work queue's dead letters.")
@progress_option
@_url_option
@click.pass_obj
def replay(settings: Settings, dead_letter_id: str | None, replay_all: bool, queue: str | None,
           progress: bool | None, broker_url: str | None) -> None:
    """Put a dead letter (or all of them) back on its queue, attempt reset to 1."""
    if bool(dead_letter_id) == replay_all:
        raise click.UsageError("give either a dead letter ID or --all")
    with _open(settings, broker_url) as transport:
        if dead_letter_id:
            transport.replay(dead_letter_id)
            click.echo("replayed 1 dead letter(s)")
            return
        # a snapshot first: letters that fail again while we replay are not replayed twice
        ids = [d.id for d in transport.dead_letters(queue, 100_000)]
        replayed, gone = _replay_each(transport, ids, wants_progress(progress))
    click.echo(f"replayed {replayed} dead letter(s)" + (f"; {gone} were gone already (replayed or discarded "
                                                         "by someone else)" if gone else ""))


def _replay_each(transport, ids: list[str], show: bool) -> tuple[int, int]:
    """Replay ``ids`` one by one: (replayed, already gone); stops naming how far it got if the broker fails."""
    replayed = gone = 0
    for number, letter_id in enumerate(ids, 1):
        try:
            transport.replay(letter_id)
            replayed += 1
        except DeadLetterNotFoundError:
            gone += 1
        except RabtError as exc:
            raise RabtError(f"replayed {replayed} of {len(ids)} dead letter(s), then stopped: {exc}") from exc
        if show and (number % 1000 == 0 or number == len(ids)):
            click.echo(f"{number} of {len(ids)} dead letters done", err=True)
    return replayed, gone


@dlq.command("discard")
@click.argument("dead_letter_id")
@_url_option
@click.pass_obj
def discard(settings: Settings, dead_letter_id: str, broker_url: str | None) -> None:
    """Delete a dead letter for good."""
    with _open(settings, broker_url) as transport:
        transport.discard(dead_letter_id)
    click.echo(f"discarded {dead_letter_id}")
