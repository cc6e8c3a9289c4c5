"""Grafana's ClickHouse plugin, as docker-compose provisions it, reads through the read-only
`analyst` user compose makes: every panel query runs with the settings the plugin sends, and the
user still cannot write, lift its caps or leave read-only mode.

The plugin runs each query under its query timeout (``queryTimeout`` of the datasource, 60 s by
default), and its driver, clickhouse-go, turns that deadline into ``max_execution_time`` = the
whole seconds left + 5 on every query. A ``readonly=1`` user refuses any setting
(grafana/clickhouse-datasource#325); ``readonly=2`` with constraints takes it within the caps.
Run on chdb (a current ClickHouse, as compose runs) with the analyst's profile from
``deploy/docker/clickhouse-users.xml`` as the session's own; no services.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.simulated_tables import dashboard_targets, expand_grafana_macros
from workbench import REPO_ROOT

USERS_XML = REPO_ROOT / "deploy/docker/clickhouse-users.xml"
DATASOURCES = REPO_ROOT / "dashboards/provisioning/datasources/datasources.yml"

# One process per chdb session: the tables are made without limits, then read as the analyst.
MAKE_TABLES = """
import chdb, sys
from streams.migrate import apply_migrations, load_migrations
connection = chdb.connect("file:" + sys.argv[1])
cursor = connection.cursor()
cursor.execute("CREATE DATABASE sentinel")
cursor.execute("USE sentinel")
def execute(sql):
    cursor.execute(sql)
    return cursor.fetchall()
apply_migrations(execute, "sentinel", load_migrations())
"""
AS_ANALYST = """
import chdb, json, sys
connection = chdb.connect(f"file:{sys.argv[1]}?config-file={sys.argv[2]}")
cursor = connection.cursor()
cursor.execute("USE sentinel")
results = []
for sql in json.loads(sys.stdin.read()):
    try:
        cursor.execute(sql)
        cursor.fetchall()
        results.append(None)
    except Exception as exc:
        results.append(str(exc).splitlines()[0][:300])
print(json.dumps(results))
"""


def plugin_query_settings() -> list[dict[str, int]]:
    """What the plugin's driver can add to a panel query, from the provisioned datasource: the
    whole seconds left of the query timeout (just under it: one less) + 5."""
    (source,) = [
        s
        for s in yaml.safe_load(DATASOURCES.read_text())["datasources"]
        if s["type"] == "grafana-clickhouse-datasource"
    ]
    timeout = int(source["jsonData"].get("queryTimeout", 60))  # the plugin's default: 60
    return [{"max_execution_time": timeout + 4}, {"max_execution_time": timeout + 5}]


def profile_as_session(profile: str, directory: Path) -> Path:
    """A chdb configuration whose session runs as a user with the compose file's ``profile``."""
    found = ET.parse(USERS_XML).getroot().find(f"profiles/{profile}")
    assert found is not None, f"{USERS_XML} has no profile {profile}"
    found.tag = "default"
    users = directory / "users.xml"
    users.write_text(
        "<clickhouse><profiles>"
        + ET.tostring(found, encoding="unicode")
        + "</profiles><users><default><password></password><networks><ip>::/0</ip></networks>"
        "<profile>default</profile><quota>default</quota></default></users>"
        "<quotas><default></default></quotas></clickhouse>"
    )
    config = directory / "config.xml"
    config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
    return config


def run_as(config: Path, data: Path, queries: list[str]) -> list[str | None]:
    """Each query's error (its first line), or None where it ran."""
    done = subprocess.run(
        [sys.executable, "-c", AS_ANALYST, str(data), str(config)],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    results: list[str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def with_settings(sql: str, settings: dict[str, Any]) -> str:
    given = ", ".join(f"{name} = {value}" for name, value in settings.items())
    return f"{sql.strip().rstrip(';')}\nSETTINGS {given}"


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("grafana") / "data"
    subprocess.run(
        [sys.executable, "-c", MAKE_TABLES, str(data)], check=True, cwd=REPO_ROOT, timeout=300
    )
    return data


def test_every_panel_query_runs_with_the_plugins_settings(tables: Path, tmp_path: Path) -> None:
    targets = [
        (dashboard, title, with_settings(expand_grafana_macros(sql), settings))
        for dashboard, title, sql in dashboard_targets("grafana-clickhouse-datasource")
        for settings in plugin_query_settings()
    ]
    errors = run_as(profile_as_session("analyst", tmp_path), tables, [t[2] for t in targets])
    failed = [(t[:2], e) for t, e in zip(targets, errors, strict=True) if e is not None]
    assert targets and not failed


def test_the_analyst_still_cannot_write_or_lift_its_caps(tables: Path, tmp_path: Path) -> None:
    cap = int(ET.parse(USERS_XML).getroot().findtext("profiles/analyst/max_execution_time") or 0)
    errors = run_as(
        profile_as_session("analyst", tmp_path),
        tables,
        [
            "INSERT INTO decisions (entry_id) VALUES ('x')",
            "DROP TABLE decisions",
            with_settings("SELECT 1", {"max_execution_time": cap + 1}),
            with_settings("SELECT 1", {"max_memory_usage": 10**11}),
            with_settings("SELECT 1", {"readonly": 0}),
            with_settings("SELECT 1", {"max_execution_time": cap}),
        ],
    )
    assert all(errors[:5]), errors
    assert errors[5] is None


def test_a_readonly_1_user_refuses_the_plugin_which_is_why_the_analyst_is_not_one(
    tables: Path, tmp_path: Path
) -> None:
    """The check above would catch the mistake of grafana/clickhouse-datasource#325."""
    strict = profile_as_session("analyst", tmp_path)
    users = strict.with_name("users.xml")
    users.write_text(users.read_text().replace("<readonly>2</readonly>", "<readonly>1</readonly>"))
    sql = expand_grafana_macros(dashboard_targets("grafana-clickhouse-datasource")[0][2])
    (error,) = run_as(strict, tables, [with_settings(sql, plugin_query_settings()[0])])
    assert error is not None and "readonly" in error.lower()
