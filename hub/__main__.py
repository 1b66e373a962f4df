"""``python -m hub`` is the ``rabt`` command."""

from hub.cli import main

main(prog_name="rabt")
