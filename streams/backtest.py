"""``sentinel backtest``: replay events through the pure core under two rule sets, and show how
the decisions would differ. No Kafka, no Faust: the in-memory engine, in event-time order."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from schemas import Decision
from streams.engine import FAR_FUTURE, Engine
from streams.ingest import Accepted, Ingestor
from streams.jsonl import read_jsonl
from streams.progress import ProgressBar
from streams.pseudonym import Pseudonymiser
from streams.rules import RuleSet


def canonical_events(path: Path, key: bytes) -> tuple[list[Any], int]:
    """The file's raw events, validated and pseudonymised as ingestion would, in event-time
    order; and how many were invalid (left out, as the DLQ would take them)."""
    ingestor = Ingestor(
        Pseudonymiser(key), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
    )
    events: list[Any] = []
    invalid = 0
    records = list(read_jsonl(path))
    bar = ProgressBar(len(records), f"reading {path.name}")
    for _, record in records:
        raw = _as_sent(record["value"])
        result = ingestor.ingest(record["topic"], raw, now=FAR_FUTURE)
        if isinstance(result, Accepted):
            events.append(result.event)
        else:
            invalid += 1
        bar.advance()
    bar.close()
    events.sort(key=lambda e: e.event_time)
    return events, invalid


def _as_sent(value: Any) -> bytes:
    """The bytes a producer would have sent for this line's value."""
    return json.dumps(value, ensure_ascii=False).encode()


def run(rules: RuleSet, events: Iterable[Any], label: str, total: int) -> Engine:
    engine = Engine(rules)
    bar = ProgressBar(total, label)
    for event in events:
        engine.feed(event)
        bar.advance()
    engine.advance(FAR_FUTURE)
    bar.close()
    return engine


def compare(baseline: Engine, candidate: Engine) -> str:
    before, after = baseline.current(), candidate.current()
    lines = [
        f"{'':<22}{baseline.rules.version:>18}{candidate.rules.version:>18}",
        *(
            f"{outcome:<22}{_count(before, outcome):>18}{_count(after, outcome):>18}"
            for outcome in ("release", "hold", "deny")
        ),
        f"{'alerts':<22}{len(baseline.alerts):>18}{len(candidate.alerts):>18}",
    ]
    for rule in sorted({r for d in [*before.values(), *after.values()] for r in d.failed_rules}):
        lines.append(f"{'failed ' + rule:<22}{_failed(before, rule):>18}{_failed(after, rule):>18}")
    changed = sorted(
        k for k in before.keys() & after.keys() if before[k].outcome != after[k].outcome
    )
    moves = Counter(f"{before[k].outcome} -> {after[k].outcome}" for k in changed)
    lines.append(f"\n{len(changed)} of {len(before)} entries would be decided differently")
    lines += [f"  {move}: {n}" for move, n in sorted(moves.items())]
    for entry_id in changed[:5]:
        reasons = "; ".join(
            f"{r.rule}: {r.reason}" for r in after[entry_id].rules if r.status != "pass"
        )
        lines.append(
            f"  e.g. {entry_id}: {before[entry_id].outcome} -> "
            f"{after[entry_id].outcome} ({reasons})"
        )
    return "\n".join(lines)


def _count(decisions: dict[str, Decision], outcome: str) -> int:
    return sum(d.outcome == outcome for d in decisions.values())


def _failed(decisions: dict[str, Decision], rule: str) -> int:
    return sum(rule in d.failed_rules for d in decisions.values())


def run_backtest(baseline: RuleSet, candidate: RuleSet, events_file: Path, key: bytes) -> int:
    from streams.worker import tune_gc

    tune_gc()
    events, invalid = canonical_events(events_file, key)
    if invalid:
        print(
            f"{invalid} invalid events left out (ingestion would dead-letter them)", file=sys.stderr
        )
    first = run(baseline, events, f"baseline {baseline.version}", len(events))
    second = run(candidate, events, f"candidate {candidate.version}", len(events))
    print(compare(first, second))
    return 0
