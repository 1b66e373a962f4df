"""A rejected salary file costs bounded memory, however many bad lines it holds.

The hub keeps only the problems its report lists and counts the rest, so a
64 MiB file of bad lines (the largest the drop accepts) must not grow the
process by anything near its size. Measured in a child process, so the peak
resident set (``VmHWM`` in ``/proc/self/status``) is that process's own and
not the test runner's; the child runs the real drop watcher, pipeline and
SQLite message log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from simulators.centralbank.sif import SifFaults, render_employer_file
from simulators.population import Population, PopulationSpec

MIB = 1024 * 1024
LIMIT = 64 * MIB

CHILD = textwrap.dedent("""
    import json, shutil, sys
    from pathlib import Path
    from adapters.centralbank import ADAPTER
    from hub.bootstrap import bootstrap
    from hub.config import Settings
    from hub.filedrop import DropWatcher
    from hub.pki import init_pki

    def peak_kib():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    home, good, bad = (Path(arg) for arg in sys.argv[1:])
    settings = Settings(home=home)
    init_pki(settings.pki_dir, ["centralbank", "licensing"], key_type="ec")
    hub = bootstrap(settings)
    watcher = DropWatcher(settings, [ADAPTER], hub.pipeline)
    inbox = settings.drop_dir / "centralbank" / "inbox"
    shutil.copyfile(good, inbox / good.name)  # warm up: imports, mapping and schemas compiled, log open
    while watcher.scan_once():
        pass
    before = peak_kib()
    shutil.move(bad, inbox / bad.name)
    while watcher.scan_once():
        pass
    report = json.loads((settings.drop_dir / "centralbank" / "failed" / (bad.name + ".report.json")).read_text())
    hub.close()
    print(json.dumps({"growth_kib": peak_kib() - before, "listed": len(report["errors"]),
                      "not_listed": report["errors_not_listed"], "first": report["errors"][0]}))
""")


def test_a_64_mib_file_of_bad_lines_grows_the_hub_by_less_than_64_mib(tmp_path):
    population = Population(PopulationSpec.scaled(300))
    good = render_employer_file(population, population.employer(0), 2026, 2, SifFaults(), "A")
    bad = render_employer_file(population, population.employer(1), 2026, 2, SifFaults(), "A")
    head = b"".join(bad.data.splitlines(keepends=True)[:3])
    row = bad.data.splitlines(keepends=True)[3]
    bad_rows = (row.replace(b"\r\n", b",an extra column\r\n"),  # 16 columns
                b"X" + row[1:])                                     # an unknown ID type
    pair = b"".join(bad_rows)
    data = head + pair * ((LIMIT - len(head)) // len(pair))
    assert LIMIT - len(pair) < len(data) <= LIMIT
    (tmp_path / "in").mkdir()
    good_path, bad_path = tmp_path / "in" / good.name, tmp_path / "in" / bad.name
    good_path.write_bytes(good.data)
    bad_path.write_bytes(data)
    result = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "home"), str(good_path), str(bad_path)],
                            capture_output=True, text=True, check=False, cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    rows = (len(data) - len(head)) // len(pair) * 2
    assert figures["listed"] == 1000
    assert figures["listed"] + figures["not_listed"] == rows + 1  # and line 2's Number Of Records
    assert figures["first"]["line"] == 2 and figures["first"]["reason"].startswith("Number Of Records is ")
    print(f"peak RSS growth {figures['growth_kib'] / 1024:.1f} MiB")
    assert figures["growth_kib"] * 1024 < LIMIT, figures
