"""``rabt pki``: the development PKI and the trust store."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from hub.config import Settings
from hub.pki import KEY_TYPES, init_pki, register_agency_certificate
from hub.pki_tls import issue_client_certificate, issue_server_certificate
from hub.registry import adapter_names

#: parties that are not adapters but still sign: the licensing reference system
EXTRA_PARTIES = ("licensing",)


@click.group()
def pki() -> None:
    """Keys, certificates and the trust store under $RABT_HOME/pki."""


@pki.command("init")
@click.option("--agency", "agencies", multiple=True,
              help="Party to issue a key for (repeatable); default: every registered adapter and licensing.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default="rsa", show_default=True)
@click.pass_obj
def init(settings: Settings, agencies: tuple[str, ...], key_type: str) -> None:
    """Create a development CA, the hub's key and one key per agency (idempotent)."""
    names = list(agencies) or sorted({*adapter_names(), *EXTRA_PARTIES})
    created = init_pki(settings.pki_dir, names, key_type=key_type)
    if created:
        click.echo(f"created {', '.join(created)} in {settings.pki_dir}")
    else:
        click.echo(f"nothing to do: {settings.pki_dir} already holds every key")


@pki.command("register")
@click.argument("agency")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Rotate: replace the agency's current certificate.")
@click.option("--overlap-until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
              help="With --replace: keep accepting the previous certificate until this UTC date (00:00) or time.")
@click.pass_obj
def register(settings: Settings, agency: str, certificate: Path, replace: bool,
             overlap_until: datetime | None) -> None:
    """Pin a partner agency's certificate (PEM) in the trust store; running hubs pick it up within seconds."""
    target = register_agency_certificate(settings.pki_dir, agency, certificate.read_bytes(), replace=replace,
                                         overlap_until=overlap_until)
    click.echo(f"registered {agency}: {target}")
    if overlap_until is not None:
        until = overlap_until.strftime("%Y-%m-%d %H:%M UTC")
        passed = overlap_until.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)
        click.echo(f"the previous certificate {'was' if passed else 'stays'} accepted until {until}"
                   + (" (already passed: only the new one is accepted)" if passed else ""))


@pki.command("server")
@click.option("--name", "names", multiple=True, required=True,
              help="Host name or IP address partners connect to (repeatable), e.g. hub.example.om, 127.0.0.1.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default="rsa", show_default=True)
@click.option("--replace", is_flag=True, help="Renew: replace the current server certificate and key.")
@click.pass_obj
def server(settings: Settings, names: tuple[str, ...], key_type: str, replace: bool) -> None:
    """Issue the TLS reverse proxy's server certificate (pki/tls/server.pem + .key) from the CA."""
    target = issue_server_certificate(settings.pki_dir, list(names), key_type=key_type, replace=replace)
    click.echo(f"server certificate for {', '.join(names)}: {target} (key beside it)")


@pki.command("client")
@click.argument("agency")
@click.option("--csr", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The agency's certificate signing request (PEM): its key never leaves the agency.")
@click.option("--key-type", type=click.Choice(KEY_TYPES), default="rsa", show_default=True,
              help="Without --csr (development): the type of the key made here.")
@click.option("--replace", is_flag=True, help="Renew: replace the agency's current client certificate.")
@click.pass_obj
def client(settings: Settings, agency: str, csr: Path | None, key_type: str, replace: bool) -> None:
    """Issue an agency's TLS client certificate (pki/tls/clients/AGENCY.pem), which the proxy requires."""
    target = issue_client_certificate(settings.pki_dir, agency, csr_pem=csr.read_bytes() if csr else None,
                                      key_type=key_type, replace=replace)
    made = "" if csr else " (key beside it: hand both to the agency over a secure channel)"
    click.echo(f"client certificate for {agency}: {target}{made}")
