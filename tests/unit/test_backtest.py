"""`sentinel backtest`: a stricter rule set's diff against the bundled one on a small story,
counted by hand. Seven general trucks, each with one driver whose NAT was sampled 10 to 50 hours
before the gate; one of them (30 h) also took a negative antigen at the gate.

  NAT age    10 h   20 h   30 h   40 h   47 h   50 h   30 h + antigen
  48 h set   rel    rel    rel    rel    rel    hold   rel
  24 h set   rel    rel    hold   hold   hold   hold   rel (the antigen remedies the NAT)

So the baseline releases 6 and holds 1, the candidate releases 3 and holds 4, and three entries
(30 h, 40 h, 47 h) move from release to hold. No services: the backtest runs the pure core."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from streams.rules import DEFAULT_RULESET
from tests.integration import story
from workbench.cli import main

AGES = {"bt-10": 10, "bt-20": 20, "bt-30": 30, "bt-40": 40, "bt-47": 47, "bt-50": 50, "bt-ag": 30}


def write_story(path: Path) -> None:
    lines = []
    for n, (entry_id, age) in enumerate(AGES.items()):
        (driver,) = story.people(1)
        at = story.T0 + timedelta(minutes=10 * n)
        topic, entry = story.entry(
            entry_id, [driver], at=at, nat_ages=[age], hazmat=False, plate=f"沪A{10000 + n}"
        )
        lines.append({"topic": topic, "value": json.loads(entry.model_dump_json())})
        if entry_id == "bt-ag":
            topic, test = story.antigen("bt-ag-test", driver, at + timedelta(minutes=5))
            lines.append({"topic": topic, "value": json.loads(test.model_dump_json())})
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))


def test_a_stricter_nat_window_holds_the_three_trucks_counted_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_PSEUDONYM_KEY", "a-test-key-of-thirty-two-characters!")
    events = tmp_path / "events.jsonl"
    write_story(events)
    text = DEFAULT_RULESET.read_text()
    assert text.count("window: 48h") == 1  # the NAT rule's, the only 48 h window
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        text.replace("window: 48h", "window: 24h").replace("jinshan-2022.2", "strict-24h")
    )
    code = main(["backtest", "--rules", str(strict), "--events", str(events)])
    out = capsys.readouterr().out
    assert code == 0, out
    table = {
        row.split()[0]: row.split()[1:] for row in out.splitlines() if re.match(r"^\w+ +\d", row)
    }
    assert table["release"] == ["6", "3"] and table["hold"] == ["1", "4"]
    assert table["deny"] == ["0", "0"]
    assert "3 of 7 entries would be decided differently" in out
    assert "  release -> hold: 3" in out
    moved = sorted(re.findall(r"e\.g\. (bt-\d+): release -> hold", out))
    assert moved == ["bt-30", "bt-40", "bt-47"]
