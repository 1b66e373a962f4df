"""``rabt adapter new`` for real: scaffold into a copy of the project, then run what it made there.

The copy holds the hub, the adapters, simulators, mappings, schemas, data files
and the adapter contract suite. After the scaffold, the copy's package metadata
is regenerated from its pyproject.toml and setup.py (``setup.py egg_info``: what ``pip
install -e .`` does to the entry points, without touching the shared
virtualenv), and every later step runs as a separate process inside the copy:
the registry finds the new adapter by name, its generated tests and the
contract suite pass, ``rabt map`` runs its mapping — and a broken mapping
makes the contract suite fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.long_running

PROJECT = Path(__file__).resolve().parents[2]
COPIED = ("hub", "adapters", "simulators", "mappings", "schemas", "pyproject.toml", "setup.py",
          "README.md", "tests/conftest.py", "tests/samples", "tests/contract/conftest.py",
          "tests/contract/test_adapter_contract.py")
#: a name no one scaffolds for real (the guide's example is another), so a real agency never collides with this test
NAME = "scaffold_probe"


def copy_project(target: Path) -> Path:
    for part in COPIED:
        source, destination = PROJECT / part, target / part
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, destination)
    (target / "tests" / "unit").mkdir(parents=True, exist_ok=True)
    return target


def data_packages(root: Path) -> Path:
    """The copy's schemas/ and mappings/ under their installed names, as an install maps them."""
    shim = root / "var" / "data-packages"
    for package, folder in (("rabt_schemas", "schemas"), ("rabt_mappings", "mappings")):
        if not (shim / package).exists():
            shim.mkdir(parents=True, exist_ok=True)
            (shim / package).symlink_to(root / folder, target_is_directory=True)
    return shim


def run(root: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """A command inside the copy: its own hub, adapters, data files and metadata come first on the path."""
    path = os.pathsep.join((str(root), str(data_packages(root))))
    env = {**os.environ, "PYTHONPATH": path, "RABT_HOME": str(root / "var")}
    env.pop("RABT_ROUTES_FILE", None)
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def pytest_in(root: Path, *args: str) -> tuple[int, str]:
    result = run(root, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *args)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project"))
    scaffolded = subprocess.run([sys.executable, "-m", "hub", "adapter", "new", NAME, "--root", str(root),
                                 "--title", "Ministry of Health"], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert scaffolded.returncode == 0, scaffolded.stderr
    assert f"created  adapters/{NAME}/__init__.py" in scaffolded.stdout
    assert "updated  pyproject.toml" in scaffolded.stdout and "pip install -e ." in scaffolded.stdout
    metadata = run(root, "setup.py", "-q", "egg_info")
    assert metadata.returncode == 0, metadata.stderr
    return root


def test_the_new_adapter_is_found_by_name_from_its_entry_point(tree):
    found = run(tree, "-c", "import hub; from hub.registry import adapter_names, load_adapter; "
                            f"a = load_adapter({NAME!r}); "
                            "print(hub.__file__, adapter_names(), a.title, a.inbound[0].operation)")
    assert found.returncode == 0, found.stderr
    assert found.stdout.split(" ", 1)[0] == str(tree / "hub" / "__init__.py")  # the copy's hub, not this one
    assert f"'{NAME}'" in found.stdout and "Ministry of Health SubmitDeparture" in found.stdout
    assert f'{NAME} = "adapters.{NAME}:ADAPTER"' in (tree / "pyproject.toml").read_text(encoding="utf-8")


def test_generated_tests_and_the_contract_suite_pass_in_the_new_tree(tree):
    code, output = pytest_in(tree, f"tests/unit/test_{NAME}_adapter.py", "tests/contract/test_adapter_contract.py",
                             "-k", NAME)
    assert code == 0, output
    passed = int(re.search(r"(\d+) passed", output).group(1))
    assert passed >= 10 and not re.search(r"\d+ (failed|skipped|error)", output), output
    assert f"test_sample_becomes_signed_canonical_verified_by_xmlsec1_and_routed[{NAME}-inbound-SubmitDeparture" \
        in run(tree, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider",
               "tests/contract/test_adapter_contract.py", "-k", NAME).stdout


def test_rabt_map_runs_the_new_mapping(tree):
    result = run(tree, "-m", "hub", "map", NAME, "WorkerDeparture", f"tests/samples/{NAME}/SubmitDeparture.xml",
                 "--validate")
    assert result.returncode == 0, result.stderr
    assert "<rabt:DepartureKind>final</rabt:DepartureKind>" in result.stdout
    assert result.stderr == "valid: WorkerDeparture (canonical schema, urn:rabt:canonical:v1)\n"


def test_scaffolding_the_same_name_again_is_refused(tree):
    again = run(tree, "-m", "hub", "adapter", "new", NAME, "--root", str(tree))
    assert again.returncode == 1
    assert again.stderr == (f"rabt: agency '{NAME}' exists already: adapters/{NAME}, mappings/{NAME}, "
                            f"schemas/agencies/{NAME}, simulators/{NAME}, tests/samples/{NAME}\n")


def test_a_broken_mapping_fails_the_contract_suite(tree, tmp_path):
    mapping = tree / "mappings" / NAME / "WorkerDeparture.xsl"
    original = mapping.read_text(encoding="utf-8")
    mapping.write_text(original.replace("'M'\">male", "'M'\">man"), encoding="utf-8")
    try:
        code, output = pytest_in(tree, "tests/contract/test_adapter_contract.py", "-k", NAME)
    finally:
        mapping.write_text(original, encoding="utf-8")
    assert code == 1 and "1 failed" in output, output
    assert "gateway fault: soap:Client.Schema: line" in output and "Gender': [facet 'enumeration'] The value 'man'" \
        in output, output
