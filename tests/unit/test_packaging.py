"""The product apart from its tools: ``streams`` and ``schemas`` never import the workbench, and
the workbench's Quix code, which runs in an environment of its own, is imported by nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUIX_ONLY = {"workbench/bench/quix_job.py", "workbench/bench/quix_consume.py"}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def arrows(files: list[Path], to: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} -> {module}"
        for path in files
        for module in sorted(imports(path))
        if module.split(".")[0] in to
    ]


def test_the_product_never_imports_the_workbench() -> None:
    assert arrows(sources("streams", "schemas"), ("workbench",)) == []


def test_the_contracts_import_nothing_of_the_pipeline() -> None:
    assert arrows(sources("schemas"), ("streams", "workbench")) == []


def test_quix_is_imported_only_by_the_code_that_runs_in_its_own_environment() -> None:
    files = [
        p
        for p in sources("streams", "schemas", "workbench")
        if str(p.relative_to(ROOT)) not in QUIX_ONLY
    ]
    assert arrows(files, ("quixstreams",)) == []
    assert arrows(sources("streams", "schemas", "workbench"), ("quixstreams",)) != []  # it looks
