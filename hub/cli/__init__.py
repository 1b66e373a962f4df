"""The ``rabt`` command line.

Each sub-command lives in its own module under ``hub.cli`` and is imported
only when the command line is built, so ``rabt --help`` stays fast and pika /
zeep load only for the commands that use them.

Exit codes: 0 success, 1 refused input or failed check (one line on stderr
naming the reason), 2 usage errors (click's own).
"""

from __future__ import annotations

import importlib
import sys

import click

from hub.cli.failures import explain, one_line
from hub.config import load_settings
from hub.errors import RabtError

#: "module:attribute" of every top-level command or group, in help order
COMMANDS = [
    "hub.cli.pki:pki",
    "hub.cli.xmlcmds:validate",
    "hub.cli.xmlcmds:sign",
    "hub.cli.xmlcmds:verify",
    "hub.cli.audit:audit",
    "hub.cli.ledger:ledger",
    "hub.cli.db:db",
    "hub.cli.simulate:simulate",
    "hub.cli.queues:queues",
    "hub.cli.queues:dlq",
    "hub.cli.console:console",
    "hub.cli.serve:serve",
    "hub.cli.drop:drop",
    "hub.cli.worker:worker",
    "hub.cli.demo:demo",
    "hub.cli.mapcmd:map_file",
    "hub.cli.adapter:adapter",
    "hub.cli.config:config",
]


class RabtGroup(click.Group):
    """Turns a :class:`RabtError`, or a library error a misconfiguration causes, into one line and exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RabtError as exc:
            _fail(str(exc))
        except Exception as exc:
            line = explain(exc)
            if line is None:
                raise  # a bug: its traceback is what a developer needs
            _fail(line)


def _fail(line: str) -> None:
    click.echo(f"rabt: {one_line(line)}", err=True)
    sys.exit(1)


@click.group(cls=RabtGroup)
@click.version_option(package_name="rabt", prog_name="rabt")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Rabt, the inter-agency integration hub.

    Settings come from rabt.toml ($RABT_CONFIG, else ./rabt.toml) with RABT_*
    environment variables overriding it; see ``rabt config show``.
    """
    ctx.obj = load_settings()


def _register(group: click.Group) -> None:
    for spec in COMMANDS:
        module_name, _, attribute = spec.partition(":")
        group.add_command(getattr(importlib.import_module(module_name), attribute))


_register(main)
