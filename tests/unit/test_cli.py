from __future__ import annotations

import pytest

from streams.cli import main


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
