"""Only the wiring knows every part: the roles below the command line never reach for ``hub.bootstrap``."""

from __future__ import annotations

import ast
from pathlib import Path

import hub

HUB = Path(hub.__file__).parent
#: entry points and the wiring itself, which may import it
WIRING = {HUB / "bootstrap.py", HUB / "serve.py", HUB / "cli"}


def bootstrap_imports(path: Path) -> list[int]:
    """Line numbers where ``path`` imports hub.bootstrap (or anything from it)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "hub.bootstrap":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "hub":
            lines += [node.lineno for a in node.names if a.name == "bootstrap"]
        elif isinstance(node, ast.Import) and any(a.name == "hub.bootstrap" for a in node.names):
            lines.append(node.lineno)
    return lines


def under(path: Path, roots: set[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def test_no_module_below_the_command_line_imports_the_wiring():
    checked = [p for p in HUB.rglob("*.py") if not under(p, WIRING)]
    assert {HUB / "gateway" / "__init__.py", HUB / "outbound" / "worker.py", HUB / "console" / "__init__.py",
            HUB / "console" / "service.py", HUB / "filedrop" / "wiring.py"} <= set(checked)
    offenders = {str(p.relative_to(HUB)): lines for p in checked if (lines := bootstrap_imports(p))}
    assert offenders == {}


def test_the_check_sees_an_import_of_the_wiring(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom hub.bootstrap import Hub\nimport hub.bootstrap as b\n"
                      "from hub import bootstrap\n")
    assert bootstrap_imports(sample) == [2, 3, 4]
