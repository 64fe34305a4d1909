"""Every dependency pyproject.toml declares is used by the package (or its task glue), and every third-party module
the package imports is declared."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"lm-eval": "lm_eval", "pyyaml": "yaml"}
"""Distribution name → the module it installs, where they differ."""
INDIRECT = {"tabulate": (ROOT / "titan_eval" / "report" / "compare.py", ".to_markdown(")}
"""Used without an import statement: pandas' DataFrame.to_markdown needs tabulate."""


def _declared() -> list[str]:
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in deps]


def _imported() -> set[str]:
    files = [*(ROOT / "titan_eval").rglob("*.py"), *(ROOT / "tasks").rglob("*.py")]
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_used() -> None:
    imported = _imported()
    unused = []
    for dist in _declared():
        if dist in INDIRECT:
            path, needle = INDIRECT[dist]
            if needle not in path.read_text(encoding="utf-8"):
                unused.append(dist)
        elif IMPORT_NAMES.get(dist, dist) not in imported:
            unused.append(dist)
    assert unused == []


def test_every_third_party_import_is_declared() -> None:
    declared = {IMPORT_NAMES.get(d, d) for d in _declared()}
    local = {"titan_eval", "titan_data"}
    third_party = {m for m in _imported() if m not in sys.stdlib_module_names} - local
    assert sorted(third_party - declared) == []
