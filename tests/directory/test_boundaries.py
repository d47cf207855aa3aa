"""The registry is a separate service in all but packaging: neither side imports the other's tables or SQL."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "iep"


def _imports(package: str) -> set[str]:
    found = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
    return found


def test_the_registry_never_imports_the_directorys_tables_or_sql() -> None:
    assert {m for m in _imports("registry") if m.startswith("iep.directory")} == set()


def test_the_directory_reaches_the_registry_only_over_http() -> None:
    assert {m for m in _imports("directory") if m.startswith("iep.registry")} == set()


def test_the_registrys_sql_names_only_its_own_schema() -> None:
    text = (SRC / "registry" / "repository.py").read_text()
    assert "directory_" not in text
