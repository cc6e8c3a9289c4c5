"""``make mutation``: mutmut over the pure core (``[tool.mutmut]`` in pyproject.toml: the rule
kinds, the engine, ingestion, the rollups), judged by the unit tests that exercise it, then the
score per module: killed / all mutants, where a mutant no test reaches counts as not killed.

mutmut keeps its work in ``mutants/`` and tries again only the functions that changed since,
so a second run takes seconds where the first takes about 8 minutes on a 2-core machine.
Runs in ``.venv-mutation`` (see the Makefile): ``python -m workbench.mutation [--jobs N]``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from workbench import REPO_ROOT

TARGET = 0.85  # docs/testing.md: the share of mutants each module's tests must kill
MUTANT = re.compile(r"^\s*(?P<name>\S+)__mutmut_\d+: (?P<status>.+)$")


def scores(results: str) -> dict[str, Counter[str]]:
    """Statuses by module, from ``mutmut results --all true``."""
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in results.splitlines():
        found = MUTANT.match(line)
        if found:
            module = found["name"].split(".x")[0]  # streams.engine.park.xǁParkǁ_judge -> module
            by_module[module][found["status"]] += 1
    return dict(by_module)


def table(by_module: dict[str, Counter[str]]) -> str:
    lines = [f"{'module':<36}{'killed':>8}{'of':>7}{'score':>8}{'survived':>10}{'no test':>9}"]
    total: Counter[str] = Counter()
    for module, counts in sorted(by_module.items()):
        total.update(counts)
        lines.append(_row(module, counts))
    lines.append(_row("all", total))
    return "\n".join(lines)


def _row(name: str, counts: Counter[str]) -> str:
    n = sum(counts.values())
    killed = counts["killed"]
    return (
        f"{name:<36}{killed:>8,}{n:>7,}{killed / n if n else 0:>8.1%}"
        f"{counts['survived']:>10,}{counts['no tests']:>9,}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make mutation", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2, help="mutants tried at once (default 2)")
    args = parser.parse_args(argv)
    mutmut = Path(sys.executable).parent / "mutmut"
    print("mutation: mutmut over the pure core (first run about 8 min; then what changed)")
    run = subprocess.run([mutmut, "run", "--max-children", str(args.jobs)], cwd=REPO_ROOT)
    if run.returncode not in (0, 1):  # 1: some mutants survived, which the table shows
        print(f"mutation: mutmut stopped (exit {run.returncode}); see its output above")
        return run.returncode
    results = subprocess.run(
        [mutmut, "results", "--all", "true"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_module = scores(results)
    print(table(by_module))
    below = [m for m, c in by_module.items() if c["killed"] < TARGET * sum(c.values())]
    print(
        f"{len(below)} of {len(by_module)} modules below {TARGET:.0%}; "
        "`.venv-mutation/bin/mutmut show NAME` shows a survivor, docs/testing.md the reasons"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
