"""``rabt audit``: check the message log's hash chains (its lanes), anchors and their timestamps; take an anchor."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.progress import progress_option, wants_progress
from hub.config import Settings
from hub.errors import AuditChainError
from hub.messagelog import open_message_log
from hub.messagelog.stamps import check_tokens
from hub.timestamps import load_tsa_certificate


@click.group()
def audit() -> None:
    """The tamper-evident message log."""


@audit.command("verify")
@click.option("--database-url", metavar="URL",
              help="Message log to check (default: RABT_DATABASE_URL, else SQLite under RABT_HOME).")
@click.option("--tsa-certificate", "--tsa-cert", default=None,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The TSA certificate tokens must be signed by (default: RABT_TSA_CERTIFICATE).")
@progress_option
@click.pass_obj
def verify(settings: Settings, database_url: str | None, tsa_certificate: Path | None, progress: bool | None) -> None:
    """Recompute every anchor and every lane's hash chain, and re-hash every stored payload and envelope.

    With a TSA certificate, also verify every anchor's RFC 3161 token (signed by that certificate, stamping
    the anchor's hash, its time not before the anchor's) and report anchors still unstamped after the grace
    period and one interval. Exit 0 when intact; exit 1 naming the first broken record (its lane and
    number) or anchor, and why, or every anchor whose timestamp does not hold.
    """
    url = database_url or settings.effective_database_url
    show = wants_progress(progress)
    with open_message_log(url, create=False) as log:
        report = log.verify_chain(_report_progress if show else None, every=50_000)
        click.echo(f"chain intact: {report.records} records in {report.lanes} lanes, {report.anchors} anchors "
                   f"(heads' root {report.head_hash})")
        _verify_stamps(log.engine, settings, tsa_certificate or settings.timestamps.certificate)


def _verify_stamps(engine, settings: Settings, certificate: Path | None) -> None:
    if certificate is None:
        click.echo("timestamps not checked: no TSA certificate (RABT_TSA_CERTIFICATE or --tsa-certificate)")
        return
    timestamps = settings.timestamps
    stamped = check_tokens(engine, load_tsa_certificate(certificate), grace=timestamps.grace + timestamps.interval)
    for finding in stamped.findings:
        click.echo(f"timestamp finding: {finding}", err=True)
    if not stamped.ok:
        more = f" (and {stamped.more} more)" if stamped.more else ""
        raise AuditChainError(f"{len(stamped.findings)} anchor(s) with a timestamp finding{more}; "
                              f"first: {stamped.findings[0]}")
    click.echo(f"timestamps verified: {stamped.stamped} anchors stamped by the pinned TSA, "
               f"{stamped.waiting} waiting for their stamp")


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
