"""Instructions one watcher executes per wage file: a figure a noisy host cannot move.

    python benchmarks/wage_file_instructions.py               # 200 files, about 2 minutes
    python benchmarks/wage_file_instructions.py --files 500

Wall-clock runs of two code versions on a shared 2-core VM drift by more
than the 5% a change is worth (see the README). This runs the drop watcher
on the same generated SIF files under ``valgrind --tool=callgrind`` twice —
once with ``--files`` files in the inbox, once with none, everything else
(start-up, PKI, compiling the mapping and the schemas, warming the log on
64 other files) the same — and prints the difference per file: the user-space
instructions of claiming, reading, mapping, validating, signing, storing and
filing one file away. Kernel work (renames, fsync) is not counted, and
valgrind hides the CPU's SHA instructions, so SHA-256 counts several times
what it costs natively. Needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import callgrind

WARM = 64


def child(files_dir: Path, count: int) -> None:
    """Inside valgrind: warm the hub on WARM files, then process ``count`` more."""
    from adapters.centralbank import ADAPTER
    from hub.bootstrap import bootstrap
    from hub.config import Settings
    from hub.filedrop import DropWatcher
    from hub.roles import settle_garbage_collector
    from hub.pki import init_pki

    files = sorted(files_dir.iterdir())
    with tempfile.TemporaryDirectory(dir=files_dir.parent) as home:
        settings = Settings(home=Path(home))
        init_pki(settings.pki_dir, ["centralbank", "licensing"], key_type="ec")
        hub = bootstrap(settings)
        watcher = DropWatcher(settings, [ADAPTER], hub.pipeline, batch_files=128)
        settle_garbage_collector()  # as the watcher role does
        inbox = settings.drop_dir / "centralbank" / "inbox"
        for batch in (files[:WARM], files[WARM:WARM + count]):
            for path in batch:
                shutil.copyfile(path, inbox / path.name)
            while watcher.scan_once():
                pass
        hub.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="files measured (after 64 to warm up)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.dir, args.child)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    from simulators.centralbank.sif import write_month
    from simulators.population import Population, PopulationSpec

    with tempfile.TemporaryDirectory(dir="/var/tmp" if Path("/var/tmp").is_dir() else None) as work:
        files_dir = Path(work) / "files"
        files_dir.mkdir()
        # 11 workers per employer on average, as in the month: enough files for WARM + --files
        summary = write_month(Population(PopulationSpec.scaled(11 * (WARM + args.files) + 1100, seed=2026)),
                              2026, 2, files_dir)
        count = min(args.files, summary.files - WARM)
        lines = sum(1 for path in sorted(files_dir.iterdir())[WARM:WARM + count] for _ in path.open("rb")) - 3 * count
        print(f"measuring {count} files ({lines} salary lines) under callgrind, twice …", file=sys.stderr)
        per_file = callgrind.per_item(__file__, count, "--dir", str(files_dir))
    print(f"files             {count} ({lines / count:.1f} salary lines each)")
    print(f"instructions      {per_file / 1e6:.2f} M per file, {per_file / (lines / count) / 1e3:.0f} k per salary line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
