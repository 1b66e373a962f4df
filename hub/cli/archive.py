"""``rabt audit archive``, ``verify-archive`` and ``purge``: evidence archives and retention (docs/evidence.md)."""

from __future__ import annotations

import getpass
import itertools
import tempfile
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import click
from hub.cli.progress import progress_option, wants_progress
from hub.config import Settings
from hub.errors import InputError
from hub.pki import PkiPaths, load_certificate

_PEM = click.Path(exists=True, dir_okay=False, path_type=Path)
_DATABASE_URL = click.option("--database-url", metavar="URL",
                             help="Message log (default: RABT_DATABASE_URL, else SQLite under RABT_HOME).")


def parse_until(text: str) -> datetime:
    """The end of the period: a day (YYYY-MM-DD) ends at the next midnight UTC; a time is as given (UTC if bare)."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.strptime(text, "%Y-%m-%d").date() + timedelta(days=1), time(),
                                    timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--until {text!r} is neither a day (YYYY-MM-DD) nor an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@click.command("archive")
@click.option("--until", required=True, metavar="DATE",
              help="End of the period: YYYY-MM-DD (that whole day) or an ISO time.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Archive file (default rabt-archive-DATE.zip).")
@click.option("--encrypt-to", type=_PEM, metavar="CERT.pem", help="Encrypt for this certificate's holder (CMS).")
@click.option("--tsa-cert", type=_PEM, metavar="CERT.pem", help="The time-stamping authority's certificate to include (default: RABT_TSA_CERTIFICATE).")
@click.option("--from-genesis", is_flag=True,
              help="Archive everything from the log's start, not from where the hub's last archive ended.")
@_DATABASE_URL
@progress_option
@click.pass_obj
def archive(settings: Settings, until: str, out: Path | None, encrypt_to: Path | None, tsa_cert: Path | None,
            from_genesis: bool, database_url: str | None, progress: bool | None) -> None:
    """Write the records, payloads and anchors after the last archive up to the anchor covering DATE into one ZIP.

    Continues from the covering anchor of the newest archive this hub wrote
    before (the log's start for the first, or with --from-genesis). Takes an
    anchor first when the period is over and none covers it yet. Written to
    a temporary file and renamed: never half an archive.
    """
    from hub.archive import write_archive
    from hub.archive.base import record_written
    from hub.messagelog import open_message_log
    from hub.signing import Signer, TrustStore

    end = parse_until(until)
    recipient = encrypt_to and load_certificate(encrypt_to)
    out = out or Path(f"rabt-archive-{until.replace(':', '')}.zip{'.p7m' if recipient else ''}")
    signer = Signer(TrustStore.load(settings.pki_dir).hub)
    report = _report_progress if wants_progress(progress) else None
    with open_message_log(database_url or settings.effective_database_url, create=False) as log:
        written = write_archive(log, signer, end, out, encrypt_to=recipient, progress=report,
                                tsa_certificate=_optional_certificate(tsa_cert or settings.timestamps.certificate),
                                base_anchor=0 if from_genesis else None)
        record_written(log, written)
    click.echo(f"archive {written.path}: {written.records} records in {written.lanes} lanes after "
               f"{_base_name(written.base_anchor)} up to anchor {written.anchor_seq} ({written.anchor_at}), "
               f"payloads of {written.payloads} messages{', encrypted' if written.encrypted else ''}")


@click.command("verify-archive")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cert", type=_PEM, metavar="HUB_CERT.pem", help="The hub certificate to check the manifest against.")
@click.option("--tsa-cert", type=_PEM, metavar="TSA_CERT.pem",
              help="The time-stamping authority's certificate to check the tokens against (default: the one inside).")
@click.option("--decrypt-key", type=_PEM, metavar="KEY.pem", help="Private key of an encrypted archive's recipient.")
@click.option("--decrypt-cert", type=_PEM, metavar="CERT.pem", help="Its certificate (default: in the key file).")
@click.option("--previous", "previous", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              metavar="PREV_FILE", help="The archive(s) before it, oldest first: each must continue the one before, "
                                        "and FILE the last (repeatable).")
@progress_option
def verify_archive(file: Path, cert: Path | None, tsa_cert: Path | None, decrypt_key: Path | None,
                   decrypt_cert: Path | None, previous: tuple[Path, ...], progress: bool | None) -> None:
    """Check an archive with no database and no network: signature, entries, anchors, chains, payloads.

    Exit 0 when everything fits; exit 1 naming the first thing that does not.
    """
    certificate, tsa = cert and load_certificate(cert), tsa_cert and load_certificate(tsa_cert)
    chain = [(path, _verified(path, certificate, decrypt_key, decrypt_cert, None, tsa)) for path in previous]
    report = _verified(file, certificate, decrypt_key, decrypt_cert,
                       _report_checked if wants_progress(progress) else None, tsa)
    _check_chain([*chain, (file, report)])
    whose = ("the certificate inside the archive (give --cert to check it against one you trust)"
             if report.embedded_certificate else "the given certificate")
    click.echo(f"archive intact: {report.records} records in {report.lanes} lanes, {report.anchors} anchors, "
               f"up to anchor {report.anchor_seq} (period until {report.until}), starting after "
               f"{_base_name(report.base.anchor_seq, report.base.hash)}")
    if previous:
        start = chain[0][1].base
        click.echo(f"continues {previous[-1].name} exactly; the {len(chain) + 1} archives make one history from "
                   f"{_base_name(start.anchor_seq, start.hash)} to anchor {report.anchor_seq}")
    click.echo(f"manifest signed by {report.certificate.subject.rfc4514_string()}, checked against {whose}")
    click.echo(f"payloads of {report.payloads} messages inside; {report.purged_before} purged earlier into other "
               f"archives; timestamp tokens: {report.tokens_checked} checked, {report.tokens_unchecked} not checked")
    if report.tokens_checked:
        click.echo("tokens checked against " + ("the given TSA certificate" if report.tsa_pinned else
                   "the TSA certificate inside the archive (give --tsa-cert to check them against one you trust)"))


@click.command("purge")
@click.option("--archived", "file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A verified archive of this log whose messages' payloads may go.")
@click.option("--cert", type=_PEM, metavar="HUB_CERT.pem", help="Hub certificate (default: this hub's own).")
@click.option("--decrypt-key", type=_PEM, metavar="KEY.pem", help="Key of an encrypted archive's recipient.")
@click.option("--decrypt-cert", type=_PEM, metavar="CERT.pem", help="Its certificate (default: in the key file).")
@click.option("--actor", help="Who purges (default: the login name).")
@_DATABASE_URL
@click.pass_obj
def purge(settings: Settings, file: Path, cert: Path | None, decrypt_key: Path | None, decrypt_cert: Path | None,
          actor: str | None, database_url: str | None) -> None:
    """Remove from the log the payloads the archive holds, keeping every chain record; verify first."""
    from hub.messagelog import open_message_log
    from hub.messagelog.retention import purge as purge_payloads

    report = _verified(file, load_certificate(cert or PkiPaths(settings.pki_dir).hub_cert),
                       decrypt_key, decrypt_cert)
    with open_message_log(database_url or settings.effective_database_url, create=False) as log:
        result = purge_payloads(log, archive_id=report.manifest_sha256, name=file.name, anchor_seq=report.anchor_seq,
                                anchor_hash=report.anchor_hash, heads=report.heads, actor=actor or getpass.getuser(),
                                after=report.base.heads)
    click.echo(f"purged the payloads of {result.purged} messages archived in {result.name}"
               f"{'' if result.recorded else ' (its purge was recorded by an earlier run)'}; "
               f"{result.kept_queued} still queued for publishing keep theirs until a later run")


def _verified(file: Path, certificate, decrypt_key: Path | None, decrypt_cert: Path | None, progress=None,
              tsa_certificate=None):
    from hub.archive import verify_archive as check
    from hub.timestamps import verify_token

    if decrypt_key is None:
        return check(file, certificate, check_token=verify_token, progress=progress, tsa_certificate=tsa_certificate)
    from hub.archive.envelope import decrypt_to

    # decrypted to an unnamed temporary file, a chunk at a time: an archive may be larger than memory
    with tempfile.TemporaryFile(prefix="rabt-archive-") as opened:
        decrypt_to(file, opened, decrypt_key.read_bytes(), decrypt_cert and load_certificate(decrypt_cert))
        opened.seek(0)
        return check(opened, certificate, check_token=verify_token, progress=progress,
                     tsa_certificate=tsa_certificate)


def _check_chain(chain: list) -> None:
    """Each archive must start where the one before it ends."""
    from hub.archive.base import check_continues

    for (before, earlier), (path, later) in itertools.pairwise(chain):
        check_continues(later, earlier, path.name, before.name)


def _base_name(anchor_seq: int, hash_: str = "") -> str:
    if anchor_seq == 0:
        return "the log's start"
    return f"base anchor {anchor_seq}" + (f" ({hash_[:16]}…)" if hash_ else "")


def _optional_certificate(path: Path | None):
    return load_certificate(path) if path is not None else None


def _report_progress(done: int, total: int) -> None:
    click.echo(f"archived {done} of {total} records", err=True)


def _report_checked(done: int, total: int) -> None:
    click.echo(f"checked {done} of {total} records", err=True)
