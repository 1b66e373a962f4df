"""The built wheel holds every data file, and ``rabt map`` / ``rabt validate`` work from it alone.

The wheel is built from this checkout and unpacked (what pip does) into a
folder that comes first on the path, and the commands run from an empty
folder: if any lookup still went through the source tree, the files would be
missing there. The dependencies come from the test environment; ``.ci/run``
also installs the wheel with its dependencies into a fresh virtualenv and runs
``rabt demo``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hub.migrations.messagelog import MESSAGE_LOG
from tests.conftest import SAMPLES

PROJECT = Path(__file__).resolve().parents[2]


def tracked(*folders: str) -> set[str]:
    listed = subprocess.run(["git", "ls-files", *folders], cwd=PROJECT, capture_output=True, text=True, check=True)
    return {line for line in listed.stdout.splitlines() if not line.endswith(".py")}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(PROJECT)], check=True, capture_output=True, timeout=180)
    wheel = next(out.glob("rabt-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(out / "site")
    return out / "site"


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RABT_")}
    env.update(PYTHONPATH=str(site), RABT_HOME=str(cwd / "var"))
    return subprocess.run([sys.executable, "-m", "hub", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_wheel_holds_every_data_file(unpacked):
    renamed = {"schemas/": "rabt_schemas/", "mappings/": "rabt_mappings/"}
    expected = set()
    for name in tracked("schemas", "mappings", "adapters", "hub/console", "hub/scaffold"):
        for folder, package in renamed.items():
            name = package + name[len(folder):] if name.startswith(folder) else name
        expected.add(name)
    shipped = {str(path.relative_to(unpacked)) for path in unpacked.rglob("*") if path.is_file()}
    assert expected <= shipped, sorted(expected - shipped)
    assert {"adapters/routes.toml", "adapters/access.toml", "rabt_schemas/canonical/v1/rabt.xsd"} <= shipped


def test_map_and_validate_run_from_the_wheel_in_an_empty_folder(unpacked, tmp_path):
    where = run(unpacked, tmp_path, "config", "show", "--json")
    assert where.returncode == 0, where.stderr
    origin = subprocess.run([sys.executable, "-c", "import hub.resources as r; print(r.mappings())"], cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(unpacked)}, capture_output=True, text=True)
    assert origin.stdout.strip() == str(unpacked / "rabt_mappings")  # not the checkout's folder
    mapped = run(unpacked, tmp_path, "map", "police", "WorkerArrival", str(SAMPLES / "police" / "NotifyArrival.xml"),
                 "--validate", "-o", str(tmp_path / "arrival.xml"))
    assert mapped.returncode == 0, mapped.stderr
    assert b"WorkerArrival" in (tmp_path / "arrival.xml").read_bytes()
    validated = run(unpacked, tmp_path, "validate", str(SAMPLES / "canonical" / "envelope-WorkerArrival.xml"))
    assert validated.returncode == 0, validated.stderr


def test_the_wheel_migrates_a_message_log_from_its_own_revisions(unpacked, tmp_path):
    assert {"hub/migrations/messagelog/env.py", "hub/migrations/messagelog/versions/0001_baseline.py",
            "simulators/licensing/migrations/versions/0001_baseline.py"} <= {
        str(path.relative_to(unpacked)) for path in unpacked.rglob("*.py")}
    upgraded = run(unpacked, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip().endswith(f"upgraded from revision none to {MESSAGE_LOG.head()}")
    current = run(unpacked, tmp_path, "db", "current")
    assert current.returncode == 0 and f"revision {MESSAGE_LOG.head()} (newest)" in current.stdout
    assert (tmp_path / "var" / "messages.sqlite3").is_file()
