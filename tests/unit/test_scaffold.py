"""``rabt adapter new``: names refused, registrations as text edits, nothing written on refusal."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

from hub.errors import ConfigError, InputError
from hub.scaffold import check_name, plan, register, scaffold_adapter

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path) -> Path:
    """A small project root: the real data files, and the police already there."""
    for name in ("pyproject.toml", "adapters/access.toml", "simulators/registry.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT / name, tmp_path / name)
    for folder in ("adapters/police", "mappings/police", "schemas/agencies/police"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def rabt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub", "adapter", "new", *map(str, args)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT)})


@pytest.mark.parametrize("name, reason", [
    ("Health", "must be 2-32 characters of a-z"),
    ("he-alth", "is not a Python identifier"),
    ("9lives", "is not a Python identifier"),
    ("class", "is not a Python identifier"),
    ("x", "must be 2-32 characters"),
    ("a" * 33, "must be 2-32 characters"),
    ("licensing", "is reserved"),
    ("hub", "is reserved"),
])
def test_invalid_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(InputError, match=reason):
        check_name(name)


@pytest.mark.parametrize("args, reason", [
    (["police"], "agency 'police' exists already: adapters/police, mappings/police, schemas/agencies/police"),
    (["Police"], "must be 2-32 characters"),
    (["scaffold_probe", "--title", 'Ministry "of" Health'], "must be one printable line without quotes"),
    (["scaffold_probe", "--title", "Health -- draft"], "without quotes, backslashes, <, >, & or --"),
])
def test_cli_refuses_with_one_line_and_writes_nothing(root, args, reason):
    before = digests(root)
    result = rabt(*args, "--root", root)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("rabt: ") and result.stderr.count("\n") == 1 and reason in result.stderr
    assert digests(root) == before


def test_a_directory_that_is_not_the_project_is_refused(tmp_path):
    result = rabt("scaffold_probe", "--root", tmp_path)
    assert result.returncode == 1 and "is not a Rabt project root (missing pyproject.toml, adapters/access.toml" in result.stderr


def test_a_name_registered_in_pyproject_is_refused_even_without_its_folders(root):
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    (root / "pyproject.toml").write_text(register.add_entry_point(text, "scaffold_probe"), encoding="utf-8")
    with pytest.raises(InputError, match="'scaffold_probe' is registered already in pyproject.toml"):
        plan(root, "scaffold_probe")


def test_an_existing_file_is_never_overwritten(root):
    existing = root / "tests" / "unit" / "test_scaffold_probe_adapter.py"
    existing.parent.mkdir(parents=True)
    existing.write_text("# someone's own test\n", encoding="utf-8")
    before = digests(root)
    with pytest.raises(InputError, match="would overwrite tests/unit/test_scaffold_probe_adapter.py"):
        scaffold_adapter(root, "scaffold_probe")
    assert digests(root) == before


def test_entry_point_is_added_to_the_adapters_group_and_nothing_else_changes():
    text = (PROJECT / "pyproject.toml").read_text(encoding="utf-8")
    updated = register.add_entry_point(text, "scaffold_probe")
    assert register.entry_points_of(updated) == {**register.entry_points_of(text), "scaffold_probe": "adapters.scaffold_probe:ADAPTER"}
    old, new = tomllib.loads(text), tomllib.loads(updated)
    new["project"]["entry-points"]["rabt.adapters"].pop("scaffold_probe")
    assert new == old
    without_group = "[project]\nname = \"rabt\"\n"
    assert register.entry_points_of(register.add_entry_point(without_group, "scaffold_probe")) == {
        "scaffold_probe": "adapters.scaffold_probe:ADAPTER"}


def test_access_rights_are_added_once():
    text = (PROJECT / "adapters" / "access.toml").read_text(encoding="utf-8")
    updated = register.add_access(text, "scaffold_probe", ("WorkerDeparture",), "Ministry of Health")
    assert tomllib.loads(updated)["scaffold_probe"] == {"may_send": ["WorkerDeparture"]}
    assert {k: v for k, v in tomllib.loads(updated).items() if k != "scaffold_probe"} == tomllib.loads(text)
    with pytest.raises(ConfigError, match=r"already has a \[scaffold_probe\] table"):
        register.add_access(updated, "scaffold_probe", ("WorkerDeparture",), "Ministry of Health")


def run_module(text: str, name: str, monkeypatch) -> types.ModuleType:
    """Execute ``text`` as module ``name`` (dataclasses need it in sys.modules)."""
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(text, f"{name}.py", "exec"), module.__dict__)  # noqa: S102 - our own registry file
    return module


def test_simulator_entry_gets_the_next_port_and_the_module_still_runs(monkeypatch):
    text = (PROJECT / "simulators" / "registry.py").read_text(encoding="utf-8")
    before = run_module(text, "registry_before", monkeypatch).SIMULATORS
    entries = run_module(register.add_simulator(text, "scaffold_probe"), "registry_after", monkeypatch).SIMULATORS
    assert set(entries) == set(before) | {"scaffold_probe"}
    assert entries["scaffold_probe"].factory == "simulators.scaffold_probe.app:create_app"
    assert entries["scaffold_probe"].default_port == max(e.default_port for e in before.values()) + 1
    assert entries["scaffold_probe"].offset == max(e.offset for e in before.values()) + 1
    with pytest.raises(ConfigError, match="already has a simulator named 'police'"):
        register.add_simulator(text, "police")
    with pytest.raises(ConfigError, match="no SimulatorEntry"):
        register.add_simulator("SIMULATORS = {}\n", "scaffold_probe")


def test_plan_renders_every_template_with_no_placeholder_left(root):
    planned = plan(root, "road_transport", "Road Transport Authority")
    names = {str(path.relative_to(planned.root)) for path in planned.files}
    assert {"adapters/road_transport/__init__.py", "mappings/road_transport/WorkerDeparture.xsl",
            "schemas/agencies/road_transport/road_transport.wsdl", "simulators/road_transport/app.py",
            "tests/samples/road_transport/SubmitDeparture.xml", "tests/unit/test_road_transport_adapter.py"} <= names
    for path, text in planned.files.items():
        assert "{{" not in text.replace("{{{NS}}}", ""), path
    assert "class RoadTransportMessages" in planned.files[root / "simulators/road_transport/messages.py"]
    assert "ROAD-TRANSPORT-DEP-000001" in planned.files[root / "tests/samples/road_transport/SubmitDeparture.xml"]
    assert set(planned.edits) == {root / "pyproject.toml", root / "adapters/access.toml", root / "simulators/registry.py"}
