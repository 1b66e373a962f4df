"""``rabt validate``, ``rabt sign``, ``rabt verify``: one XML file at a time."""

from __future__ import annotations

from pathlib import Path

import click
from lxml import etree

from hub import canonical
from hub.config import Settings
from hub.signing import Signer, TrustStore, Verifier
from hub.xmlsafe import parse_xml_file

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("file", type=_FILE)
@click.pass_obj
def validate(settings: Settings, file: Path) -> None:
    """Check FILE (an envelope or one canonical message) against the canonical schemas."""
    document = parse_xml_file(file, settings.xml_limits)
    canonical.validate(document)
    click.echo(f"valid: {etree.QName(document).localname} ({canonical.NAMESPACE})")


@click.command()
@click.argument("file", type=_FILE)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the signed document here instead of standard output.")
@click.pass_obj
def sign(settings: Settings, file: Path, output: Path | None) -> None:
    """Sign FILE with the hub's key (enveloped XML-DSig)."""
    document = parse_xml_file(file, settings.xml_limits)
    signed = Signer(TrustStore.load(settings.pki_dir).hub).sign_bytes(document)
    if output is None:
        click.get_binary_stream("stdout").write(signed)
    else:
        temporary = output.with_name(f".{output.name}.tmp")
        temporary.write_bytes(signed)
        temporary.replace(output)


@click.command()
@click.argument("file", type=_FILE)
@click.option("--agency", help="Require the signature of this party (default: whoever the trust store knows).")
@click.pass_obj
def verify(settings: Settings, file: Path, agency: str | None) -> None:
    """Verify FILE's signature against the trust store."""
    document = parse_xml_file(file, settings.xml_limits, agency=agency)
    verified = Verifier(TrustStore.load(settings.pki_dir)).verify(document, expected_signer=agency)
    click.echo(f"signature valid: signed by {verified.signer}")
