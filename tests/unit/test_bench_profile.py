"""The bench's profile summaries: py-spy's folded stacks and cProfile, summed by area."""

from __future__ import annotations

import cProfile
from pathlib import Path

from streams.rules import DEFAULT_RULESET, load_ruleset
from workbench.bench.profile import profiled, read_folded, summarise


def test_py_spy_samples_are_summed_by_area_and_by_our_functions(tmp_path: Path) -> None:
    folded = tmp_path / "spy.txt"
    folded.write_text(
        # As py-spy names files: relative to their sys.path entry.
        "<module> (streams/cli.py:9);handle (streams/agents/decide.py:90);"
        "model_validate_json (pydantic/main.py:700) 30\n"
        "<module> (streams/cli.py:9);_execute_actor (faust/agents/agent.py:640) 50\n"
        "<module> (streams/cli.py:9);write (clickhouse_driver/streams/native.py:48) 10\n"
        "<module> (streams/cli.py:9);handle (streams/agents/decide.py:90) 10\n"
    )
    summary = summarise(read_folded(folded))
    assert summary["samples"] == 100
    assert summary["self_by_area"] == {
        "faust and mode": 0.5,
        "pydantic": 0.3,
        "clickhouse client": 0.1,
        "ours": 0.1,
    }
    # The entry point every stack starts at is not listed.
    assert summary["ours_inclusive"] == [("streams/agents/decide.py:handle", 0.4)]


def test_a_cprofile_run_is_summed_the_same_way() -> None:
    profile = cProfile.Profile()
    profile.runcall(load_ruleset, DEFAULT_RULESET)
    summary = profiled(profile)
    assert abs(sum(summary["self_by_area"].values()) - 1) < 1e-9
    names = [name for name, _ in summary["ours_inclusive"]]  # cProfile names files in full
    assert names[0] == "streams/rules/ruleset.py:load_ruleset"
    assert summary["ours_inclusive"][0][1] <= 1
