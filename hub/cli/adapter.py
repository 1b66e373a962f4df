"""``rabt adapter new NAME``: scaffold a new agency (see :mod:`hub.scaffold`)."""

from __future__ import annotations

from pathlib import Path

import click

_NEXT = """\
next:
  pip install -e .        # refresh the entry points: the hub then finds {name!r} by name
  python -m pytest -q tests/unit/test_{name}_adapter.py tests/contract/test_adapter_contract.py -k {name}
  rabt map {name} WorkerDeparture tests/samples/{name}/SubmitDeparture.xml --validate
  rabt pki register {name} CERT.pem    # the agency's own certificate (development: rabt pki init --agency {name})
then replace the stand-in exchange with the agency's own: docs/adding-an-agency.md"""


@click.group()
def adapter() -> None:
    """Agency adapters: scaffold a new one."""


@adapter.command("new")
@click.argument("name")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Project root to write into (default: the current folder, which must be a checkout).")
@click.option("--title", help="The agency's full name, for the Adapter and the docs (default: NAME).")
def new(name: str, root: Path | None, title: str | None) -> None:
    """Scaffold agency NAME: adapter, mapping, schema, simulator, sample and tests, registered by entry point."""
    from hub.scaffold import scaffold_adapter

    done = scaffold_adapter(root or Path.cwd(), name, title)
    for path in done.files:
        click.echo(f"created  {path.relative_to(done.root)}")
    for path in done.edits:
        click.echo(f"updated  {path.relative_to(done.root)}")
    click.echo(_NEXT.format(name=name))
