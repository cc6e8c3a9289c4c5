"""A service failing says so in one sentence naming the setting and the fix; a repeated failure is
logged once per backoff step with its count; the client libraries' tracebacks stay at debug."""

from __future__ import annotations

import argparse
import logging

import pytest
from clickhouse_driver import errors as ch
from kafka import errors as kafka

from streams import cli, failures
from streams.settings import Settings, load_settings


@pytest.fixture
def settings() -> Settings:
    return load_settings({})


@pytest.mark.parametrize(
    ("exc", "names"),
    [
        (ch.NetworkError("Connection refused"), ["SENTINEL_CLICKHOUSE_URL", "stack up"]),
        (ch.ServerException("Wrong password for worker", 193), ["SENTINEL_CLICKHOUSE_PASSWORD"]),
        (ch.ServerException("Database sentinel doesn't exist", 81), ["sentinel migrate"]),
        (ch.ServerException("Table sentinel.x doesn't exist.", 60), ["sentinel migrate"]),
        (kafka.NoBrokersAvailable(), ["SENTINEL_KAFKA_BOOTSTRAP", "stack up"]),
        (kafka.SaslAuthenticationFailedError(), ["SENTINEL_KAFKA_PASSWORD"]),
        (kafka.TopicAuthorizationFailedError(), ["SENTINEL_KAFKA_USER"]),
        (kafka.KafkaTimeoutError("Failed to update metadata after 60.0 secs."), ["topics create"]),
    ],
)  # fmt: skip
def test_a_service_failure_is_one_sentence_naming_the_fix(
    exc: Exception, names: list[str], settings: Settings
) -> None:
    sentence = failures.describe(exc, settings)
    assert sentence is not None and "\n" not in sentence
    for name in names:
        assert name in sentence


def test_other_errors_are_not_dressed_up(settings: Settings) -> None:
    assert failures.describe(ValueError("a bug"), settings) is None


def _command(raises: BaseException) -> cli.Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        raise raises

    return cli.Command("probe", "probe", "probe", (), lambda parser: None, run)


def test_any_command_meeting_a_service_failure_prints_a_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `sentinel demo` did with ClickHouse stopped: a traceback ending in NetworkError.
    for variable in ("SENTINEL_LOG_LEVEL", "SENTINEL_CLICKHOUSE_URL"):
        monkeypatch.delenv(variable, raising=False)
    failure = ch.NetworkError("Code: 210. Connection refused (127.0.0.1:9000)")
    code = cli.main(["probe"], commands=[_command(failure)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("sentinel probe: ClickHouse at 127.0.0.1:9000/sentinel does not answer")


def test_a_bug_keeps_its_traceback() -> None:
    with pytest.raises(ZeroDivisionError):
        cli.main(["probe"], commands=[_command(ZeroDivisionError("a bug"))])


def test_the_drivers_connection_warnings_show_at_debug_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    noisy = logging.getLogger("clickhouse_driver.connection")
    caplog.set_level(logging.DEBUG)
    try:
        failures.quiet_clients(debug=False)
        noisy.warning("Failed to connect to 127.0.0.1:9000", exc_info=ConnectionRefusedError())
        assert not caplog.records
        failures.quiet_clients(debug=True)
        noisy.warning("Failed to connect to 127.0.0.1:9000")
        assert [r.getMessage() for r in caplog.records] == ["Failed to connect to 127.0.0.1:9000"]
    finally:
        noisy.setLevel(logging.NOTSET)


def test_a_repeated_failure_is_logged_once_per_backoff_step_with_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("test.backoff")
    caplog.set_level(logging.INFO, logger="test.backoff")
    backoff = failures.Backoff(log, "reading ClickHouse", every=2.0, longest=30.0)
    waits = [backoff.failed(ch.NetworkError("Connection refused")) for _ in range(7)]
    assert waits == [2, 4, 8, 16, 30, 30, 30]
    assert len(caplog.records) == 7  # one line a step, no traceback below debug
    assert all(r.exc_info is None for r in caplog.records)
    assert "(7 in a row)" in caplog.records[-1].getMessage()
    assert backoff.succeeded() == 2.0
    assert caplog.records[-1].getMessage() == "reading ClickHouse works again after 7 failures"
    caplog.clear()
    assert backoff.succeeded() == 2.0 and not caplog.records


def test_every_retry_waits_by_one_policy_doubling_to_its_cap_and_starting_over() -> None:
    delays = failures.Delays(0.5, 3.0)
    assert [delays.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert delays.failures == 5
    delays.succeeded()
    assert (delays.failures, delays.failed()) == (0, 0.5)


def test_no_retry_loop_doubles_its_wait_by_itself() -> None:
    import re
    from pathlib import Path

    root = Path(failures.__file__).parent
    doubling = re.compile(r"\*\s*2\b")
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "sleep" not in line and doubling.search(line) and "min(" in line
    ]
    assert [place.split(":")[0] for place in found] == ["failures.py"], found  # Delays.failed
