"""The ``--progress/--no-progress`` option shared by the commands whose work can take minutes."""

from __future__ import annotations

import sys

import click

progress_option = click.option("--progress/--no-progress", default=None,
                               help="Report progress on stderr (default: when stderr is a terminal).")


def wants_progress(flag: bool | None) -> bool:
    """The option's value, or whether stderr is a terminal when it was not given."""
    return sys.stderr.isatty() if flag is None else flag
