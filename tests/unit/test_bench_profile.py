"""The bench's profile summaries: py-spy's folded stacks and cProfile, summed by area."""

from __future__ import annotations

import cProfile
from pathlib import Path

from streams.bench.profile import profiled, read_folded, summarise
from streams.rules import DEFAULT_RULESET, load_ruleset

SITE = "/venv/lib/python3.11/site-packages"


def test_py_spy_samples_are_summed_by_area_and_by_our_functions(tmp_path: Path) -> None:
    folded = tmp_path / "spy.txt"
    folded.write_text(
        f"<module> (/repo/streams/cli.py:9);judge_people (/repo/streams/agents/judge.py:90);"
        f"model_validate_json ({SITE}/pydantic/main.py:700) 30\n"
        f"<module> (/repo/streams/cli.py:9);_execute_actor ({SITE}/faust/agents/agent.py:640) 60\n"
        f"<module> (/repo/streams/cli.py:9);judge_people (/repo/streams/agents/judge.py:90) 10\n"
    )
    summary = summarise(read_folded(folded))
    assert summary["samples"] == 100
    assert summary["self_by_area"] == {"faust and mode": 0.6, "pydantic": 0.3, "ours": 0.1}
    assert summary["ours_inclusive"] == [
        ("streams/cli.py:<module>", 1.0), ("streams/agents/judge.py:judge_people", 0.4)
    ]  # fmt: skip


def test_a_cprofile_run_is_summed_the_same_way() -> None:
    profile = cProfile.Profile()
    profile.runcall(load_ruleset, DEFAULT_RULESET)
    summary = profiled(profile)
    assert abs(sum(summary["self_by_area"].values()) - 1) < 1e-9
    names = [name for name, _ in summary["ours_inclusive"]]
    assert names[0] == "streams/rules/ruleset.py:load_ruleset"
