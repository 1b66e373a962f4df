"""``python -m simulators.licensing serve|consume``."""

from simulators.licensing.cli import main

main()
