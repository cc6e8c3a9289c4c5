"""The product apart from its tools: ``streams`` and ``schemas`` never import the workbench, and
the workbench's Quix code, which runs in an environment of its own, is imported by nothing else."""

from __future__ import annotations

import ast
import os
import subprocess
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


def test_the_system_packages_script_installs_python3_venv_where_python3_cannot_make_one(
    tmp_path: Path,
) -> None:
    """On a minimal Debian 12, python3 has no ensurepip until python3-venv is installed, and
    `make demo` failed at `python3 -m venv`. Here python3 is a stand-in that cannot import it,
    and apt-get a stand-in that records what it was asked to install."""
    stubs = tmp_path / "bin"
    stubs.mkdir()
    asked = tmp_path / "apt-get.log"
    for name, body in {
        "python3": "exit 1",  # no ensurepip: Debian's python3 without python3-venv
        "apt-get": f'echo "$@" >> {asked}',
    }.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "install-system-packages.sh")],
        env=os.environ | {"PATH": f"{stubs}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    if os.getuid() == 0:  # as root the script calls apt-get itself: the stand-in
        assert done.returncode == 0, done.stderr
        assert "python3-venv" in asked.read_text().split()
    else:
        assert done.returncode == 1 and "python3-venv" in done.stderr
