"""Instructions a whole Python run executes, counted by valgrind's callgrind.

A figure a loaded machine cannot move, unlike CPU seconds: the
``*_instructions`` benchmarks run their own script twice this way, with and
without the work, and divide the difference. Kernel work (fsync, sockets) is
not counted, and valgrind hides the CPU's SHA instructions, so SHA-256 counts
higher than it costs natively. Python's string hashing is seeded the same for
every run (0, unless ``PYTHONHASHSEED`` is set): a new seed lays out each dict
and set anew, which moved the same code's count by ±15 k per message between
runs. Needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import os
import re
import sys

from hub import lifeline


def instructions(script: str, *args: str) -> int:
    """Instructions of ``python script args…`` from start to exit."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, script, *args]
    seeded = {**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")}
    result = lifeline.run(command, capture_output=True, text=True, check=False, env=seeded)
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not found:
        raise SystemExit(f"valgrind run failed: {result.stderr.strip().splitlines()[-3:]}")
    return int(found.group(1))


def per_item(script: str, count: int, *args: str) -> float:
    """Instructions per item: ``script --child COUNT args…`` less ``script --child 0 args…``, over COUNT.

    Each ``*_instructions`` script does its work COUNT times when started with
    ``--child COUNT``; the run with none pays everything else (imports, setup).
    """
    without = instructions(script, "--child", "0", *args)
    return (instructions(script, "--child", str(count), *args) - without) / count
