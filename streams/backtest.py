"""``sentinel backtest``: replay events through the batch processor (``streams/processor.py``)
under two rule sets, and show how the decisions would differ. No Kafka, no Faust: the processor
with an in-memory engine, fed a file's records in event-time order, batch by batch."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas import Alert
from streams.engine import FAR_FUTURE, Engine
from streams.engine.outputs import Decided
from streams.ingest import Ingestor
from streams.jsonl import read_jsonl
from streams.processor import Processor, Raw
from streams.progress import ProgressBar
from streams.pseudonym import Pseudonymiser
from streams.rules import RuleSet

BATCH = 500  # records per batch, as the decide stage takes them
EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass
class Replayed:
    """What a replay decided and paged, and the processor that did it."""

    rules: RuleSet
    processor: Processor
    decisions: list[Decided] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    invalid: int = 0  # records dead-lettered

    def take(self) -> None:
        taken = self.processor.take(state=False)
        self.decisions += taken.decisions
        self.alerts += taken.alerts
        self.invalid += sum(send.topic == "sentinel.dlq" for send in taken.outputs)

    def finish(self) -> None:
        """The clock to its end: every deadline due."""
        self.processor.advance(FAR_FUTURE)
        self.take()

    def current(self) -> dict[str, Decided]:
        """The latest decision of every entry."""
        latest: dict[str, Decided] = {}
        for decision in self.decisions:
            if decision.revision >= latest.get(decision.entry_id, decision).revision:
                latest[decision.entry_id] = decision
        return latest


def from_file(path: Path) -> list[tuple[str, bytes]]:
    """The file's records (``{"topic", "value"}`` lines): each topic, and the bytes a producer
    would have sent for its value."""
    return [
        (record["topic"], json.dumps(record["value"], ensure_ascii=False).encode())
        for _, record in read_jsonl(path)
    ]


def in_event_time(records: Iterable[tuple[str, bytes]]) -> list[Raw]:
    """Raw records (topic, value), in the order of their event times (one with no readable
    event time first: ingestion refuses it)."""
    timed = [(_event_time(value), Raw(topic, value)) for topic, value in records]
    timed.sort(key=lambda pair: pair[0])
    return [raw for _, raw in timed]


def _event_time(value: bytes) -> datetime:
    try:
        at = datetime.fromisoformat(json.loads(value)["event_time"])
    except (TypeError, KeyError, ValueError):
        return EARLIEST
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def processor(rules: RuleSet, key: bytes) -> Processor:
    """A processor over an in-memory engine: one partition, every event of the file already
    there (no input holds the clock), nothing refused for being in the future. Its line per
    alert, dead letter or late event is a worker's log; a replay says what came of it in its
    report instead."""
    logging.getLogger("streams.processor").setLevel(logging.ERROR)
    ingestor = Ingestor(
        Pseudonymiser(key), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
    )
    return Processor(Engine(rules, record=False), ingestor, wall=lambda: FAR_FUTURE)


def batches(records: list[Raw], size: int = BATCH) -> Iterator[list[Raw]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def replay(
    rules: RuleSet, records: list[Raw], key: bytes, label: str, finish: bool = True
) -> Replayed:
    """``records`` through a processor, batch by batch; then (``finish``) the clock to its end."""
    replayed = Replayed(rules, processor(rules, key))
    bar = ProgressBar(len(records), label)
    for batch in batches(records):
        for raw in batch:
            replayed.processor.read(raw)
        replayed.take()
        bar.advance(len(batch))
    if finish:
        replayed.finish()
    bar.close()
    return replayed


def compare(baseline: Replayed, candidate: Replayed) -> str:
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
            f"{r.rule}: {r.reason}" for r in after[entry_id].results if r.status != "pass"
        )
        lines.append(
            f"  e.g. {entry_id}: {before[entry_id].outcome} -> "
            f"{after[entry_id].outcome} ({reasons})"
        )
    return "\n".join(lines)


def _count(decisions: dict[str, Decided], outcome: str) -> int:
    return sum(d.outcome == outcome for d in decisions.values())


def _failed(decisions: dict[str, Decided], rule: str) -> int:
    return sum(rule in d.failed_rules for d in decisions.values())


def run_backtest(baseline: RuleSet, candidate: RuleSet, events_file: Path, key: bytes) -> int:
    from streams.worker import tune_gc

    tune_gc()
    records = in_event_time(from_file(events_file))
    first = replay(baseline, records, key, f"baseline {baseline.version}")
    second = replay(candidate, records, key, f"candidate {candidate.version}")
    if first.invalid:
        print(
            f"{first.invalid} invalid events left out (ingestion would dead-letter them)",
            file=sys.stderr,
        )
    print(compare(first, second))
    return 0
