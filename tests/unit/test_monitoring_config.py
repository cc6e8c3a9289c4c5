"""Prometheus and Alertmanager configuration, checked by their own tools (Debian's promtool and
amtool): the configs parse, every alert rule fires in one case and stays quiet in another, and
alerts are routed to the receivers the comments promise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import Alert
from streams.agents.dispatch import payload
from streams.words import Language
from tests.simulated_tables import dashboard_targets

DEPLOY = Path(__file__).parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"


SCRAPE_TOKEN = "/run/secrets/metrics_token"


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which(name)
    assert path, f"{name} is missing; `make deps` installs it (deploy/install-system-packages.sh)"
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60)


def test_prometheus_config_and_rules_are_valid(tmp_path: Path) -> None:
    # The scrape token is a compose secret; promtool wants the file to exist.
    token = tmp_path / "metrics_token"
    token.write_text("a-token")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert SCRAPE_TOKEN in config
    (tmp_path / "rules.yml").write_text((PROMETHEUS / "rules.yml").read_text())
    (tmp_path / "prometheus.yml").write_text(config.replace(SCRAPE_TOKEN, str(token)))
    result = tool("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_rule_has_a_firing_and_a_quiet_case() -> None:
    result = tool("promtool", "test", "rules", str(PROMETHEUS / "rules.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    rules = (PROMETHEUS / "rules.yml").read_text()
    tests = (PROMETHEUS / "rules.test.yml").read_text()
    for line in rules.splitlines():
        if line.strip().startswith("- alert:"):
            name = line.split(":", 1)[1].strip()
            cases = tests.split(f"alertname: {name}\n")[1:]
            quiet = [c for c in cases if c.lstrip().startswith("exp_alerts: []")]
            assert len(quiet) >= 1 and len(cases) - len(quiet) >= 1, name


def test_a_broken_expectation_fails_promtool(tmp_path: Path) -> None:
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    tests = (PROMETHEUS / "rules.test.yml").read_text().replace("720 entries", "721 entries")
    (tmp_path / "rules.test.yml").write_text(tests)
    assert tool("promtool", "test", "rules", str(tmp_path / "rules.test.yml")).returncode != 0


def test_alertmanager_config_is_valid() -> None:
    result = tool("amtool", "check-config", str(ALERTMANAGER))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "park=tangu-green-bay", "alertname=no_positive"], "duty-pager"),
        (["severity=critical", "park=elsewhere", "alertname=evasion"], "duty-pager"),
        (["severity=warning", "alertname=health_visits", "enterprise=ent-001"], "enterprises"),
        (["severity=warning", "alertname=health_visits", "enterprise=ent-002"], "enterprises"),
        (["severity=warning", "alertname=dwell", "park=tangu-green-bay"], "park-operations"),
        (["severity=critical", "alertname=SentinelWorkerDown"], "pipeline-oncall"),
        (["severity=warning", "alertname=SentinelGateSilent"], "pipeline-oncall"),
    ],
)
def test_alerts_are_routed_by_severity_park_and_enterprise(
    labels: list[str], receiver: str
) -> None:
    result = tool("amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def test_every_receiver_is_told_when_an_alert_ends_and_no_route_names_a_park() -> None:
    import yaml

    config = yaml.safe_load(ALERTMANAGER.read_text())
    routes = [config["route"], *config["route"]["routes"]]
    assert not any(
        "park=" in m or "enterprise=" in m for r in routes for m in r.get("matchers", [])
    )
    for receiver in config["receivers"]:
        integrations = receiver.get("webhook_configs", []) + receiver.get("wechat_configs", [])
        assert integrations and all(i["send_resolved"] for i in integrations), receiver["name"]


def wechat(
    tmp_path: Path, template: str, status: str, language: Language = "zh", **fields: Any
) -> str:
    """``template`` of templates/sentinel.tmpl rendered by amtool for one alert, posted as the
    dispatcher posts it (its words in ``language``), with ``fields`` of the Alert."""
    alert = Alert.model_validate(
        {
            "event_id": "positive:ag-1",
            "event_time": "2022-04-14T10:38:00+08:00",
            "severity": "critical",
            "rule": "no_positive",
            "subject": "沪A12345",
            "dedup_key": "positive:ag-1",
            "park": "tangu-green-bay",
            "message": "positive antigen",
            "detected_at": "2022-04-14T10:38:00+08:00",
            **fields,
        }
    )
    posted = payload(alert, datetime(2022, 4, 14, 3, tzinfo=UTC), language)
    data = tmp_path / "alerts.json"
    data.write_text(
        json.dumps(
            {
                "receiver": "duty-pager",
                "status": status,
                "alerts": [{"status": status, **posted}],
                "groupLabels": {},
                "commonLabels": posted["labels"],
                "commonAnnotations": posted["annotations"],
                "externalURL": "http://127.0.0.1:9093",
            }
        )
    )
    result = tool(
        "amtool",
        "template",
        "render",
        f"--template.glob={ALERTMANAGER.parent / 'templates' / '*.tmpl'}",
        f"--template.text={{{{ template {json.dumps(template)} . }}}}",
        f"--template.data={data}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_the_wechat_message_says_what_where_and_since_when_in_chinese(tmp_path: Path) -> None:
    firing = wechat(tmp_path, "sentinel.wechat.message", "firing", gate="jinshanwei-1")
    assert firing.splitlines() == [
        "【紧急】检测阳性，园区 tangu-green-bay",
        "- 闸口 jinshanwei-1，沪A12345：positive antigen（2022-04-14 10:38 起）",
    ]
    ended = {"park": "p", "enterprise": "e", "resolved_at": "2022-04-14T11:05:00+08:00"}
    resolved = wechat(tmp_path, "sentinel.wechat.message", "resolved", **ended)
    assert resolved.splitlines()[0] == "【已解除】检测阳性，园区 p，企业 e"
    assert "（已于 2022-04-14 11:05 解除）" in resolved


def test_the_wechat_message_in_english(tmp_path: Path) -> None:
    firing = wechat(tmp_path, "sentinel.wechat.message", "firing", "en", gate="jinshanwei-1")
    assert firing.splitlines() == [
        "[CRITICAL] positive test, park tangu-green-bay",
        "- gate jinshanwei-1, 沪A12345: positive antigen (since 2022-04-14 10:38)",
    ]


@pytest.mark.parametrize(
    ("labels", "party"),
    [
        ({"park": "tangu-green-bay"}, "2"),
        ({"park": "another-park"}, "1"),
        ({"park": "tangu-green-bay", "enterprise": "ent-007"}, "17"),
        ({"park": "tangu-green-bay", "enterprise": "ent-999"}, "1"),
    ],
)
def test_the_wechat_department_comes_from_the_alerts_labels(
    tmp_path: Path, labels: dict[str, str], party: str
) -> None:
    assert wechat(tmp_path, "sentinel.wechat.party", "firing", **labels) == party  # type: ignore[arg-type]


def exposed_names() -> set[str]:
    """The sample names streams/metrics.py exposes."""
    from prometheus_client.metrics import MetricWrapperBase

    from streams import metrics

    suffixes = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
    return {
        metric._name + suffix  # noqa: SLF001 (the declared name and type)
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
        for suffix in suffixes[metric._type]  # noqa: SLF001
    }


def test_dashboards_and_rules_use_only_metrics_that_exist() -> None:
    texts = [query for _, _, query in dashboard_targets("prometheus")]
    texts.append((PROMETHEUS / "rules.yml").read_text())
    used = {name for text in texts for name in re.findall(r"\bsentinel_[a-z_]+", text)}
    assert used and used <= exposed_names(), used - exposed_names()


def test_every_dashboard_promql_parses(tmp_path: Path) -> None:
    queries = [query for _, _, query in dashboard_targets("prometheus")]
    rules = {
        "groups": [
            {
                "name": "panels",
                "rules": [
                    {"record": f"panel:{n}", "expr": query} for n, query in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "panels.yml").write_text(json.dumps(rules))  # JSON is YAML
    result = tool("promtool", "check", "rules", str(tmp_path / "panels.yml"))
    assert result.returncode == 0 and len(queries) > 10, result.stdout + result.stderr
