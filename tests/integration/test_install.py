"""The product apart from its tools: `pip install .` into a fresh virtualenv, then, from a
directory outside any checkout, `sentinel rules check`, `sentinel topics create`, `sentinel
migrate` and `sentinel worker` work: the bundled rules and the migrations are package data, and
nothing reaches for the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from streams import access
from streams.settings import Settings
from streams.worker import wait_for_ready
from tests.integration.helpers import drop_database, query, settings_env

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("pyproject.toml", "README.md", "streams", "schemas", "workbench")


def run(
    *argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


def test_the_installed_product_runs_a_worker_outside_a_checkout(
    fresh: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "source"  # what the repository ships, without its .local and .venv
    source.mkdir()
    for name in SHIPPED:
        if (ROOT / name).is_dir():
            skip = shutil.ignore_patterns("__pycache__")
            shutil.copytree(ROOT / name, source / name, ignore=skip)
        else:
            shutil.copy(ROOT / name, source / name)
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "--quiet", "--progress-bar", "off", source)
    sentinel = venv / "bin" / "sentinel"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A deployment elsewhere: the broker's CA, each user's password and the key given as settings.
    apart = {"namespace": "installed", "state_dir": str(elsewhere / "state")}
    env = settings_env(access.pinned(fresh), **apart)
    as_worker = settings_env(access.pinned(access.as_user(fresh, "worker")), **apart)
    database = f"{fresh.clickhouse_database}_installed"
    try:
        listed = run(sentinel, "--help", cwd=elsewhere, env=env).stdout
        assert "worker" in listed and "migrate" in listed
        assert "stack" not in listed  # the workbench's commands need a checkout
        bundled = run(sentinel, "rules", "show", cwd=elsewhere, env=env).stdout
        (elsewhere / "rules.yaml").write_text(bundled)
        checked = run(sentinel, "rules", "check", "rules.yaml", cwd=elsewhere, env=env)
        assert "jinshan-2022" in checked.stdout
        run(sentinel, "topics", "create", cwd=elsewhere, env=env)
        run(sentinel, "migrate", cwd=elsewhere, env=env)
        tables = {row[0] for row in query(fresh, f"SHOW TABLES FROM {database}")}
        assert {"decisions", "resolutions", "rulesets"} <= tables
        log_file = elsewhere / "worker.log"
        with log_file.open("wb") as log:
            worker = subprocess.Popen(
                [sentinel, "worker"],
                cwd=elsewhere,
                env={**as_worker, "SENTINEL_HTTP_PORT": "0"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_ready(log_file, 0, worker.pid, is_alive=lambda: worker.poll() is None)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
        assert "Traceback" not in log_file.read_text()
        # The README's operator command, from the installed product (it was the workbench's).
        status = run(sentinel, "status", cwd=elsewhere, env=as_worker).stdout
        assert "decided" in status
    finally:
        drop_database(fresh, database)
