"""``rabt pki``: the development PKI and the trust store."""

from __future__ import annotations

from pathlib import Path

import click

from hub.config import Settings
from hub.pki import KEY_TYPES, init_pki, register_agency_certificate
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
@click.pass_obj
def register(settings: Settings, agency: str, certificate: Path, replace: bool) -> None:
    """Pin a partner agency's certificate (PEM) in the trust store."""
    target = register_agency_certificate(settings.pki_dir, agency, certificate.read_bytes(), replace=replace)
    click.echo(f"registered {agency}: {target}")
