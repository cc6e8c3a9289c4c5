"""The docs that restate the code stay true to it: the rules table of docs/rules.md against the
bundled rule set, and the README's tables of commands and settings against the CLI and the
settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.rules.kinds import KINDS
from streams.settings import ENV_PREFIX, ConfigError, Settings, load_settings
from workbench.cli import all_commands
from workbench.stack import ports
from workbench.stack.ports import StackPorts

ROOT = Path(__file__).resolve().parents[2]


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The rows of the first table after ``heading``, each a list of its cells."""
    rows = []
    section = text[text.index(heading) :]
    started = False
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("- "):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # the header


def pages(rule_id: str) -> str:
    """What the bundled rule pages, as docs/rules.md writes it."""
    rule = next(r for r in load_ruleset(DEFAULT_RULESET).rules if r.id == rule_id)
    if rule.evidence in ("code_colour", "origin_risk"):
        return "red: critical"  # the kinds page a red code or origin whatever `alert` says
    return rule.severity if rule.alert else "no"


def test_the_rules_table_of_the_docs_is_the_bundled_rule_set() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    documented = {
        row[0].strip("`"): (row[2].strip("`"), row[3], row[4], row[5])
        for row in table_rows(text, "## The bundled rules")
    }
    bundled = {
        r.id: (r.evidence, r.subjects, r.on_failure, pages(r.id))
        for r in load_ruleset(DEFAULT_RULESET).rules
    }
    assert documented == bundled


def test_every_rule_kind_is_described_in_the_docs() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    assert [k for k in KINDS if f"`{k}`" not in text] == []


def test_the_readme_lists_every_command_and_nothing_else() -> None:
    text = (ROOT / "README.md").read_text()
    listed = set()
    for row in table_rows(text, "## The `sentinel` command"):
        match = re.match(r"`sentinel (\w+)", row[0])
        assert match is not None, row
        listed.add(match.group(1))
    assert listed == {c.name for c in all_commands()}


def test_the_readme_lists_every_setting_with_its_default() -> None:
    text = (ROOT / "README.md").read_text()
    rows = {row[0].strip("`"): row[1] for row in table_rows(text, "## Settings")}
    want = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    assert set(rows) == want
    for name, field in Settings.model_fields.items():
        if (
            isinstance(field.default, SecretStr)
            or name == "state_dir"
            or field.default in ("", None)
        ):
            continue  # described in words
        shown = rows[f"{ENV_PREFIX}{name.upper()}"]
        assert shown.strip("`") == str(field.default).removesuffix(".0"), name


def test_the_readme_lists_the_stacks_ports_apart_from_the_settings() -> None:
    text = (ROOT / "README.md").read_text()
    rows = {row[0].strip("`"): row[1] for row in table_rows(text, "The local stack's own ports")}
    assert rows == {
        ports.variable(name): f"`{field.default}`"
        for name, field in StackPorts.model_fields.items()
    }
    assert not set(StackPorts.model_fields) & set(Settings.model_fields)


def test_a_stack_port_is_checked_where_it_is_read() -> None:
    assert ports.load_ports({"SENTINEL_STACK_ZOOKEEPER_PORT": "12181"}).zookeeper_port == 12181
    load_settings({"SENTINEL_STACK_ZOOKEEPER_PORT": "12181"})  # not the product's to refuse
    with pytest.raises(ConfigError, match="SENTINEL_STACK_ZOOKEPER_PORT"):
        ports.load_ports({"SENTINEL_STACK_ZOOKEPER_PORT": "1"})
    with pytest.raises(ConfigError, match="SENTINEL_STACK_CLICKHOUSE_HTTP_PORT='0'"):
        ports.load_ports({"SENTINEL_STACK_CLICKHOUSE_HTTP_PORT": "0"})


def test_the_cluster_tests_time_is_said_the_same_everywhere() -> None:
    """.ci/run said about 6 minutes, the README 5 (measured: 4 min 40 s to 4 min 50 s)."""
    said = {
        path: re.findall(r"about (\d+) minutes", (ROOT / path).read_text())
        for path in (".ci/run", "README.md")
    }
    assert said[".ci/run"] and set(said[".ci/run"]) <= set(said["README.md"]), said


def test_the_grafana_login_is_the_one_compose_requires() -> None:
    """dashboards/README.md said admin / admin; compose refuses to start Grafana without
    GRAFANA_ADMIN_PASSWORD."""
    compose = (ROOT / "docker-compose.yml").read_text()
    readme = (ROOT / "dashboards" / "README.md").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?" in compose
    assert "GRAFANA_ADMIN_PASSWORD" in readme and "admin / admin" not in readme


def test_the_readmes_unit_test_command_installs_what_the_unit_tests_run() -> None:
    """After `make demo` alone, `pytest tests/unit` failed: the monitoring tests run promtool
    and amtool, which only `make test`'s dependencies install. The README's command for the
    unit tests is a make target that installs them."""
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "`make test-unit` runs the fast tests" in readme
    assert "pytest tests/unit` runs" not in readme
    (prerequisites,) = re.findall(r"^test-unit:(.*)$", makefile, re.MULTILINE)
    assert "deps-test" in prerequisites.split()
    script = (ROOT / "deploy" / "install-system-packages.sh").read_text()
    assert "promtool" in script and "prometheus-alertmanager" in script
