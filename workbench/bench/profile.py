"""Where the time goes, for the bench's summary: py-spy samples of a live worker (b), and
cProfile of the replay path (g), each summed by area (our code, pydantic, Faust, the Kafka
client, asyncio's loop, the rest) and by our own functions.

py-spy reads the worker's stacks from outside, without stopping it (``--nonblocking``); idle
samples (the loop waiting in ``select``) are left out, so the shares are of the time the worker
was busy.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench import REPO_ROOT

# Our files, the product's (cProfile names them in full, py-spy relative to their sys.path
# entry); the workbench's (the bench itself) are not among them.
OURS = ("streams/", "schemas/")
# Else the first area whose marker is in a frame's file ("/"-prefixed) wins.
AREAS = (
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("faust and mode", ("/faust/", "/mode/")),
    ("kafka client", ("/aiokafka/", "/kafka/")),
    ("clickhouse client", ("/clickhouse_driver/",)),
    ("json and codecs", ("/json/", "/orjson", "/encodings/")),
    ("asyncio loop", ("/asyncio/", "/selectors.py")),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")
TOP = 10
SPY_RATE = 100  # samples a second


def area(filename: str) -> str:
    if ours(filename):
        return "ours"
    path = "/" + filename.lstrip("/")
    for name, markers in AREAS:
        if any(marker in path for marker in markers):
            return name
    return "other"


def ours(filename: str) -> str | None:
    """The repository-relative name (``streams/engine/park.py``) of one of our files."""
    name = filename.removeprefix(f"{REPO_ROOT}/")
    return name if name.startswith(OURS) else None


def _counted(name: str) -> bool:
    """Whether to list it: not the entry points every stack starts at."""
    return not name.startswith(("streams/cli.py", "streams/worker.py"))


def summarise(stacks: Iterable[tuple[list[tuple[str, str]], int]]) -> dict[str, Any]:
    """Samples, given as (frames from the outermost, count): the share of self time by area,
    and our functions by inclusive share (each counted once per stack)."""
    by_area: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        if not frames:
            continue
        total += count
        by_area[area(frames[-1][1])] += count
        for name in {f"{ours(file)}:{function}" for function, file in frames if ours(file)}:
            if _counted(name):
                inclusive[name] += count
    if not total:
        return {"samples": 0, "self_by_area": {}, "ours_inclusive": []}
    return {
        "samples": total,
        "self_by_area": {name: n / total for name, n in by_area.most_common()},
        "ours_inclusive": [(name, n / total) for name, n in inclusive.most_common(TOP)],
    }


def read_folded(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """py-spy's raw output: one ``frame;frame;... count`` line per distinct stack, from the
    outermost frame, each ``function (file:line)``."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = []
        for frame in stack.split(";"):
            found = _FRAME.match(frame)
            if found:
                frames.append((found.group("function"), found.group("file")))
        if count.isdigit():
            stacks.append((frames, int(count)))
    return stacks


def spy(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling process ``pid`` for ``seconds`` (py-spy, without stopping it)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(SPY_RATE),
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def profiled(profile: cProfile.Profile) -> dict[str, Any]:
    """A cProfile run, summed the same way: self time by area; our functions by cumulative time
    (recursion aside), as shares of the whole run."""
    stats = pstats.Stats(profile)
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in entries.values()) or 1.0
    by_area: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    for (file, _, function), row in entries.items():
        by_area[area(file)] += row[2]
        name = ours(file)
        if name and _counted(name):
            cumulative[f"{name}:{function}"] = max(cumulative[f"{name}:{function}"], row[3])
    return {
        "seconds": total,
        "self_by_area": {name: t / total for name, t in by_area.most_common()},
        "ours_inclusive": [(name, min(t / total, 1.0)) for name, t in cumulative.most_common(TOP)],
    }


def lines(title: str, summary: dict[str, Any]) -> list[str]:
    """Markdown for the summary."""
    if not summary.get("self_by_area"):
        return [f"{title}: no samples."]
    areas = ", ".join(f"{name} {share:.0%}" for name, share in summary["self_by_area"].items())
    out = [f"{title}. Self time by area: {areas}.", "", "| our function | inclusive |", "|---|---|"]
    out += [f"| `{name}` | {share:.0%} |" for name, share in summary["ours_inclusive"]]
    return out
