"""Where a wage file's CPU goes: the drop watcher's stages, each timed on its own.

    python benchmarks/wage_file_stages.py                  # 1,000 files, ECDSA, about a minute
    python benchmarks/wage_file_stages.py --files 3000 --key-type rsa

Runs one watcher in this process on generated SIF files (warmed on 64
others first, as ``wage_file_instructions.py`` does) with the CPU time
(user + system, ``time.process_time``) of each stage added up around the
function that does it, and prints the stages per file, largest first, as
shares of the whole. Stages nest: "check" holds the XSLT mapping, the schema,
the search terms, the envelope and the signature; what no stage names is the
watcher's own bookkeeping. System time counts: claiming and filing away are
mostly kernel work (renames, creating the receipt). The figures move with
the host's load; compare stages within one run, and use
``wage_file_instructions.py`` to compare code versions.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from adapters.centralbank import ADAPTER
from hub import mapping, pipeline, signing
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.filedrop import DropWatcher, filing, folders, process
from hub.pki import init_pki
from hub.roles import settle_garbage_collector
from simulators.centralbank.sif import write_month
from simulators.population import Population, PopulationSpec

WARM = 64
TOTAL = "whole file"
#: (object, attribute, stage): each function is wrapped to add its CPU time to its stage
STAGES = (
    (DropWatcher, "_run_batches", TOTAL),
    (folders.DropFolders, "claim", "claim: rename to processing/, open, lock"),
    (process, "inspect", "inspect: read, SHA-256, NUL check"),
    (filing.Filer, "refuse_reused_name", "look for an earlier receipt of the name"),
    (process, "read_items", "read: CSV checked into the rows tree"),
    (pipeline.Pipeline, "_canonicalize", "check: all of it"),
    (mapping.Mappings, "transform", "check: XSLT mapping"),
    (pipeline.canonical, "validate", "check: XSD validation"),
    (pipeline, "_body_terms", "check: search terms"),
    (pipeline, "canonical_envelope", "check: envelope (C14N)"),
    (signing.Signer, "sign_canonical_digested", "check: signature"),
    (pipeline.Pipeline, "accept_batch", "store: message log (one transaction a slice)"),
    (DropWatcher, "_done", "file away: receipt, rename to done/"),
)


def timed(spent: Counter, owner, name: str, stage: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its CPU time to ``spent[stage]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[stage] += time.process_time() - started

    setattr(owner, name, wrapper)


def run(files: list[Path], work: Path, key_type: str) -> tuple[int, Counter, os.times_result, os.times_result]:
    """Process ``files`` after WARM others; (files handled, CPU per stage, times before, times after)."""
    spent: Counter = Counter()
    for owner, name, stage in STAGES:
        timed(spent, owner, name, stage)
    settings = Settings(home=work / "home")
    init_pki(settings.pki_dir, ["centralbank", "licensing"], key_type=key_type)
    hub = bootstrap(settings)
    try:
        watcher = DropWatcher(settings, [ADAPTER], hub.pipeline, batch_files=128)
        settle_garbage_collector()  # as the watcher role does
        inbox = settings.drop_dir / "centralbank" / "inbox"
        handled = 0
        for batch in (files[:WARM], files[WARM:]):
            for path in batch:
                shutil.copyfile(path, inbox / path.name)
            spent.clear()
            handled, before = 0, os.times()
            while outcomes := watcher.scan_once():
                handled += len(outcomes)
            after = os.times()
        return handled, spent, before, after
    finally:
        hub.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files measured (after 64 to warm up)")
    parser.add_argument("--key-type", choices=("ec", "rsa"), default="ec", help="hub signing key (default: ec)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir="/var/tmp" if Path("/var/tmp").is_dir() else None) as folder:
        work = Path(folder)
        (work / "files").mkdir()
        # 11 workers per employer on average, as in the month
        write_month(Population(PopulationSpec.scaled(11 * (WARM + args.files) + 1100, seed=2026)),
                    2026, 2, work / "files")
        files = sorted((work / "files").iterdir())[:WARM + args.files]
        handled, spent, before, after = run(files, work, args.key_type)
    user, system = (after.user - before.user) / handled, (after.system - before.system) / handled
    print(f"files             {handled} ({args.key_type} key), load average {os.getloadavg()[0]:.1f}")
    print(f"CPU per file      {1e3 * (user + system):.3f} ms (user {1e3 * user:.3f}, system {1e3 * system:.3f})")
    whole = spent[TOTAL] or 1.0
    for stage, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        print(f"  {stage:46s} {1e6 * seconds / handled:6.0f} us {100 * seconds / whole:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
