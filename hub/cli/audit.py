"""``rabt audit``: check the message log's hash chains (its lanes) and anchors; take an anchor."""

from __future__ import annotations

import click

from hub.cli.progress import progress_option, wants_progress
from hub.config import Settings
from hub.messagelog import open_message_log


@click.group()
def audit() -> None:
    """The tamper-evident message log."""


@audit.command("verify")
@click.option("--database-url", metavar="URL",
              help="Message log to check (default: RABT_DATABASE_URL, else SQLite under RABT_HOME).")
@progress_option
@click.pass_obj
def verify(settings: Settings, database_url: str | None, progress: bool | None) -> None:
    """Recompute every anchor and every lane's hash chain, and re-hash every stored payload and envelope.

    Exit 0 when intact; exit 1 naming the first broken record (its lane and number) or anchor, and why.
    """
    url = database_url or settings.effective_database_url
    show = wants_progress(progress)
    with open_message_log(url, create=False) as log:
        report = log.verify_chain(_report_progress if show else None, every=50_000)
    click.echo(f"chain intact: {report.records} records in {report.lanes} lanes, {report.anchors} anchors "
               f"(heads' root {report.head_hash})")


@audit.command("anchor")
@click.option("--database-url", metavar="URL",
              help="Message log to anchor (default: RABT_DATABASE_URL, else SQLite under RABT_HOME).")
@click.pass_obj
def anchor(settings: Settings, database_url: str | None) -> None:
    """Bind every lane's head in a new anchor now (writers also anchor by themselves, every minute).

    Worth running before a backup or an archive: records deleted after it are then caught by it.
    """
    url = database_url or settings.effective_database_url
    with open_message_log(url, create=False) as log:
        taken = log.anchor()
    if taken is None:
        click.echo("nothing to anchor: no lane moved since the newest anchor")
    else:
        click.echo(f"anchor {taken.anchor_seq}: {taken.records} records in {taken.lanes} lanes (root {taken.root})")


def _report_progress(checked: int, total: int) -> None:
    click.echo(f"checked {checked} of {total} records", err=True)


def _add_archive_commands() -> None:
    from hub.cli.archive import archive, purge, verify_archive

    for command in (archive, verify_archive, purge):
        audit.add_command(command)


_add_archive_commands()
