"""``rabt ledger CIVIL_NUMBER``: a worker's signed disclosure report from the message log."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path

import click

from hub.config import Settings
from hub.errors import InputError
from hub.jws import payload_of
from hub.messagelog import open_message_log
from hub.messagelog.ledger import MAX_PAGE, Window, moment


def _moment(_ctx, param: click.Parameter, text: str | None) -> datetime | None:
    try:
        return moment(param.opts[0], text) if text is not None else None
    except InputError as exc:
        raise click.BadParameter(exc.reason, param=param) from None


@click.command("ledger")
@click.argument("civil_number")
@click.option("--from", "since", callback=_moment, metavar="TIME", help="Only messages received from then (UTC).")
@click.option("--until", callback=_moment, metavar="TIME", help="Only messages received before then (UTC).")
@click.option("--after", type=click.IntRange(min=0), default=0, show_default=True,
              help="Start after this chain record (the report's page.next_after, for the next page).")
@click.option("--limit", type=click.IntRange(1, MAX_PAGE), default=MAX_PAGE, show_default=True,
              help="Entries per report, at most.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the signed report (JWS, JSON) here instead of standard output.")
@click.option("--database-url", metavar="URL",
              help="Message log to read (default: RABT_DATABASE_URL, else SQLite under RABT_HOME).")
@click.pass_obj
def ledger(settings: Settings, civil_number: str, since, until, after: int, limit: int, out: Path | None,
           database_url: str | None) -> None:
    """Who received data about CIVIL_NUMBER: a report signed by the hub's key (JWS with its certificate).

    Each entry names the message, when, sender, receiver, type, the legal basis in force when it was
    accepted, the outcome, and the chain record it traces to. The look-up itself is chained in the log.
    """
    from hub.bootstrap import bootstrap

    hub = bootstrap(settings, log=open_message_log(database_url or settings.effective_database_url, create=False))
    try:
        signed = hub.ledger.report(civil_number, asked_by=f"cli:{getpass.getuser()}",
                                   window=Window(since, until, after, limit))
    finally:
        hub.close()
    text = json.dumps(signed, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {out}: {exc.strerror}") from exc
    report = payload_of(signed)
    more = report["page"]["next_after"]
    click.echo(f"{len(report['entries'])} entries for {civil_number} written to {out}, signed by {report['issuer']}"
               + (f"; more after chain record {more} (--after {more})" if more else ""))
