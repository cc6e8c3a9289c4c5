from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import all_commands, main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse exits on usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run([], capsys)
    assert code == 2
    assert "usage: sentinel" in output
    assert "required: COMMAND" in output


def test_unknown_command_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(["launch"], capsys)
    assert code == 2
    assert "invalid choice: 'launch'" in output
    assert "stack" in output and "migrate" in output


def test_stack_action_must_be_known(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(["stack", "restart"], capsys)
    assert code == 2
    assert "invalid choice: 'restart'" in output


@pytest.mark.parametrize(("value", "message"), [("0", "not a positive number"), ("x", "whole")])
def test_demo_entries_must_be_positive(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(["demo", "--entries", value], capsys)
    assert code == 2
    assert message in output


def test_bad_setting_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_KAFKA_BOOTSTRAP", "nohostport")
    code, output = run(["stack", "status"], capsys)
    assert code == 2
    assert "SENTINEL_KAFKA_BOOTSTRAP='nohostport'" in output
    assert "host:port" in output


def test_topics_list_shows_the_catalogue(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_TOPIC_PREFIX", "t1.")
    code, output = run(["topics", "list"], capsys)
    assert code == 0
    assert "t1.gate.entries" in output
    assert "t1.sentinel.rulesets" in output and "compacted" in output


def test_simulate_needs_a_destination(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(["simulate", "--seed", "1"], capsys)
    assert code == 2
    assert "--out DIR, --kafka, or both" in output


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["simulate", "--out", "x", "--hazmat-share", "1.5"], "not a share"),
        (["simulate", "--out", "x", "--speed", "-1"], "negative"),
        (["simulate", "--out", "x", "--seed", "one"], "invalid int value"),
        (["simulate", "--out", "x", "--scenario", "wuhan"], "invalid choice"),
        (["dlq", "purge"], "invalid choice"),
    ],
)
def test_simulate_and_dlq_argument_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(argv, capsys)
    assert code == 2
    assert message in output


def test_produce_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(["produce", str(tmp_path / "nope.jsonl")], capsys)
    assert code == 2
    assert "nope.jsonl is not a file" in output


def test_produce_refuses_a_bad_file_before_sending(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"topic": "gate.exits", "value": {}}\n{"topic": "nowhere", "value": {}}\n')
    code, output = run(["produce", str(path)], capsys)  # no broker is touched: it fails first
    assert code == 2
    assert "events.jsonl:2: unknown topic 'nowhere'" in output


def test_simulate_writes_files_and_ground_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(["simulate", "--seed", "7", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert "11,778 entries" in output and "peak 502" in output
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == sum(truth["events_by_topic"].values())
    assert truth["total_entries"] == 11_778 and truth["params"]["seed"] == 7


def test_report_days_are_checked_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(["report", "--from", "4 May"], capsys)
    assert code == 2 and "'4 May' is not a day; write it as 2022-05-04" in output
    code, output = run(["report", "--from", "2022-05-04", "--to", "2022-05-01"], capsys)
    assert code == 2 and "--from 2022-05-04 is after --to 2022-05-01" in output


def test_every_command_explains_itself_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in all_commands():
        assert command.description and command.examples, command.name
        code, output = run([command.name, "--help"], capsys)
        assert code == 0
        assert command.description.split()[0] in output and "examples:" in output, command.name
        assert "%%" not in output, f"{command.name}: a doubled percent sign in its help"
    code, output = run(["stack", "--help"], capsys)
    assert "up: start Kafka and ClickHouse" in output and "down: stop" in output


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(["--version"], capsys)
    assert code == 0 and output.startswith("sentinel ")


def test_a_misspelt_setting_says_which_was_meant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTINEL_KAFKA_BOOTSRAP", "127.0.0.1:9092")
    code, output = run(["topics", "list"], capsys)
    assert code == 2
    assert "SENTINEL_KAFKA_BOOTSRAP (did you mean SENTINEL_KAFKA_BOOTSTRAP?)" in output


@pytest.mark.parametrize(("spelling", "level"), [("WARNING", "warn"), ("critical", "crit")])
def test_common_spellings_of_log_levels(spelling: str, level: str) -> None:
    from streams.settings import load_settings

    assert load_settings({"SENTINEL_LOG_LEVEL": spelling}).log_level == level


def test_a_namespace_runs_apart(capsys: pytest.CaptureFixture[str]) -> None:
    from streams.settings import load_settings

    settings = load_settings({"SENTINEL_NAMESPACE": "jinshan-2022"})
    assert settings.topic("gate.entries") == "jinshan-2022.gate.entries"
    assert settings.app_id == "gate-sentinel-jinshan-2022"
    assert settings.clickhouse_database == "sentinel_jinshan_2022"
    code, output = run(["--namespace", "trial", "topics", "list"], capsys)
    assert code == 0 and "trial.gate.entries" in output


def test_the_product_has_the_operators_commands_without_the_workbench() -> None:
    """`sentinel status` is in the README's operator commands: an installed product (no
    workbench entry point) has it; the workbench adds only its own tools."""
    from streams.cli import COMMANDS
    from workbench.cli import commands

    product = {c.name for c in COMMANDS}
    assert {"status", "resolve", "report", "reconcile", "dlq", "worker"} <= product
    assert not product & {c.name for c in commands()} - {"worker"}


def test_each_product_command_is_a_module_of_its_own_found_by_walking_the_package() -> None:
    import pkgutil

    import streams.commands
    from streams.commands import ORDER, product_commands

    modules = {m.name for m in pkgutil.iter_modules(streams.commands.__path__)} - {"base"}
    commands = product_commands()
    assert [c.name for c in commands] == list(ORDER)
    assert {c.name for c in commands} == modules
    assert all(c.run.__module__ == f"streams.commands.{c.name}" for c in commands)
