"""``rabt queues`` and ``rabt dlq``: queue depths, dead letters, replay, discard, purge.

Both read the same settings as the hub (the broker URL, ``RABT_ROUTES_FILE``
with its queue prefix, the message log's database) and never declare
anything: a command that looks must not create queues on the broker, and
queues under another prefix than the hub's would show zero while the hub's
fill up. Dead letters are those the hub keeps in its database
(:mod:`hub.deadletters`): ``rabt dlq`` first moves new ones off the broker, then
lists, replays and discards them there, each action chained in the message
log under the name ``cli:<user>``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace

import click

from hub.cli.progress import progress_option, wants_progress
from hub.config import Settings
from hub.deadletters import DeadLetterDesk, DeadLetterStore, LetterFilter
from hub.errors import RabtError
from hub.messagelog import open_message_log
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
    return open_transport(url, routes=load_routes(settings.routes_file), **opts)


@contextmanager
def _desk(settings: Settings, broker_url: str | None) -> Iterator[DeadLetterDesk]:
    """The hub's dead letters over this command's own broker connection and the hub's message log."""
    with _open(settings, broker_url) as transport, open_message_log(settings.effective_database_url) as log:
        yield DeadLetterDesk(DeadLetterStore(log.engine), log, lambda work: work(transport))


def _operator() -> str:
    """Who acts, as the chain records it: the account that ran the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@click.command("queues")
@_url_option
@_json_option
@click.pass_obj
def queues(settings: Settings, broker_url: str | None, as_json: bool) -> None:
    """Depth, consumers and dead letters of every work queue (as the hub's routes name them)."""
    with _open(settings, broker_url) as transport, open_message_log(settings.effective_database_url) as log:
        # letters the hub kept plus any the broker still holds (never both: moving acks them there)
        kept = DeadLetterStore(log.engine).counts()
        stats = [replace(s, dead_letters=s.dead_letters + kept.get(s.name, 0)) for s in transport.queue_stats()]
    if not stats:
        click.echo("no work queue of these routes exists on the broker yet (the hub declares them on start)",
                   err=True)
    if as_json:
        click.echo(json.dumps([asdict(s) for s in stats], indent=2))
        return
    click.echo(f"{'queue':<24} {'ready':>8} {'unacked':>8} {'consumers':>9} {'dead':>6}")
    for s in stats:
        unacked = "-" if s.unacked is None else s.unacked
        click.echo(f"{s.name:<24} {s.ready:>8} {unacked:>8} {s.consumers:>9} {s.dead_letters:>6}")


@click.group("dlq")
def dlq() -> None:
    """Dead letters the hub keeps: list, replay, discard, purge."""


@dlq.command("list")
@click.option("--queue", metavar="NAME", help="Only this work queue's dead letters.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@_url_option
@_json_option
@click.pass_obj
def list_(settings: Settings, queue: str | None, limit: int, broker_url: str | None, as_json: bool) -> None:
    """Dead letters with the reason, error code and attempts (looking changes nothing on the broker)."""
    with _desk(settings, broker_url) as desk:
        letters = desk.letters(LetterFilter(queue=queue), limit)
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
@click.option("--agency", metavar="NAME", help="With --all: only messages from this agency.")
@click.option("--type", "message_type", metavar="TYPE", help="With --all: only messages of this type.")
@progress_option
@_url_option
@click.pass_obj
def replay(settings: Settings, dead_letter_id: str | None, replay_all: bool, queue: str | None, agency: str | None,
           message_type: str | None, progress: bool | None, broker_url: str | None) -> None:
    """Put a dead letter (or all of them) back on its queue, attempt reset to 1."""
    if bool(dead_letter_id) == replay_all:
        raise click.UsageError("give either a dead letter ID or --all")
    actor = _operator()
    with _desk(settings, broker_url) as desk:
        if dead_letter_id:
            desk.replay(dead_letter_id, actor)
            click.echo("replayed 1 dead letter(s)")
            return
        # a snapshot first: letters that fail again while we replay are not replayed twice
        which = LetterFilter(queue=queue, agency=agency, message_type=message_type)
        ids = [d.id for d in desk.letters(which, 100_000)]
        replayed, gone = _replay_each(lambda letter_id: desk.replay(letter_id, actor), ids, wants_progress(progress))
    click.echo(f"replayed {replayed} dead letter(s)" + (f"; {gone} were gone already (replayed or discarded "
                                                         "by someone else)" if gone else ""))


def _replay_each(replay_one, ids: list[str], show: bool) -> tuple[int, int]:
    """Replay ``ids`` one by one: (replayed, already gone); stops naming how far it got if the broker fails."""
    replayed = gone = 0
    for number, letter_id in enumerate(ids, 1):
        try:
            replay_one(letter_id)
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
@click.option("--reason", default="", help="Why (kept in the message log's chain).")
@_url_option
@click.pass_obj
def discard(settings: Settings, dead_letter_id: str, reason: str, broker_url: str | None) -> None:
    """Delete a dead letter for good."""
    with _desk(settings, broker_url) as desk:
        desk.discard(dead_letter_id, _operator(), reason)
    click.echo(f"discarded {dead_letter_id}")


@dlq.command("purge")
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Do not ask; for scripts.")
@_url_option
@click.pass_obj
def purge(settings: Settings, queue: str, yes: bool, broker_url: str | None) -> None:
    """Discard every dead letter of a work queue (asks to type the queue's name)."""
    confirm = queue if yes else click.prompt(f"type {queue} to discard all its dead letters", default="")
    with _desk(settings, broker_url) as desk:
        count = desk.purge(queue, _operator(), confirm)
    click.echo(f"purged {count} dead letter(s) of {queue}")
