from __future__ import annotations

from pathlib import Path

import pytest

from streams.jsonl import JsonlError, key_for, read_jsonl


def test_keys_come_from_the_catalogue_unless_given() -> None:
    entry = {"plate": "沪A12345", "park": "tangu"}
    assert key_for({"topic": "gate.entries", "value": entry}) == b"tangu"  # by park
    assert key_for({"topic": "health.visits", "value": {"park": "tangu"}}) == b"tangu"
    assert key_for({"topic": "health.nat", "value": {"id_number": "X1"}}) == b"X1"
    assert key_for({"topic": "ref.risk-areas", "value": {"region": "310116"}}) == b"310116"
    assert key_for({"topic": "gate.entries", "key": "k", "value": {"plate": "p"}}) == b"k"
    assert key_for({"topic": "gate.entries", "value": "not an object"}) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", "events.jsonl:2: not JSON"),
        ('{"value": {}}', 'expected {"topic": ..., "value": ...}'),
        ('{"topic": "gate.entrys", "value": {}}', "unknown topic 'gate.entrys'"),
    ],
)
def test_a_bad_line_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"topic": "gate.exits", "value": {}}\n' + line + "\n")
    with pytest.raises(JsonlError, match=message.replace("{", r"\{").replace(".", r"\.")):
        list(read_jsonl(path))


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('\n{"topic": "gate.exits", "value": {}}\n\n')
    assert [n for n, _ in read_jsonl(path)] == [2]


def test_pacing_follows_event_time_at_the_given_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench import playback

    clock = {"now": 100.0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(playback.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(playback.time, "sleep", sleep)
    first = None
    for stamp in (
        "2022-04-01T08:00:00+08:00",
        "2022-04-01T09:00:00+08:00",
        "2022-04-01T09:00:00+08:00",
    ):
        first = playback._pace({"value": {"event_time": stamp}}, 3600.0, first)
    assert slept == [pytest.approx(1.0)]  # an hour of event time is a second at speed 3600
