"""``rabt drop``: the agencies' file-drop folders from the command line."""

from __future__ import annotations

import click

from hub.config import Settings


def _build_pipeline(settings: Settings):
    """The production pipeline (``hub.bootstrap``); returns (pipeline, closer)."""
    from hub.bootstrap import bootstrap

    hub = bootstrap(settings)
    return hub.pipeline, hub.close


@click.group()
def drop() -> None:
    """Agency drop folders: $RABT_HOME/drop/<agency>/{inbox,processing,done,failed}."""


@drop.command()
@click.argument("agency", required=False)
@click.pass_obj
def scan(settings: Settings, agency: str | None) -> None:
    """Process what is in the inboxes once (all agencies, or AGENCY); one line per file.

    Accepted files move to done/ with a receipt, rejected ones to failed/
    with a report; the messages wait in the outbox for the relay.
    """
    from hub.filedrop import DropWatcher, file_drop_adapters

    adapters = file_drop_adapters([agency] if agency else None)
    pipeline, close = _build_pipeline(settings)
    try:
        watcher = DropWatcher(settings, adapters, pipeline, progress=lambda o: click.echo(o.summary()))
        outcomes = watcher.scan_once()
    finally:
        close()
    done = sum(o.status == "done" for o in outcomes)
    failed = sum(o.status == "failed" for o in outcomes)
    click.echo(f"{len(outcomes)} file(s): {done} accepted, {failed} rejected, "
               f"{len(outcomes) - done - failed} put back for later", err=True)
