"""The replay path (g) of one checkout, for an A/B of two versions on the same events in one
sitting (``sentinel bench --against COMMIT``): run as a script with ``PYTHONPATH`` naming the
checkout, it reads raw events (JSON lines), and times, ``runs`` times, what that version's
replay path does with them without Kafka: ingest (validate, pseudonymise), sort by event time,
and run the rule engine to the end. Prints one JSON line.

Standalone on purpose: it runs against versions that have no such file, through the API each
version had (``streams.engine.Engine`` now; ``streams.rules.Engine`` before).
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from datetime import timedelta
from typing import Any


def main(path: str, runs: int, tuned_gc: bool) -> None:
    from streams.ingest import Accepted, Ingestor
    from streams.pseudonym import Pseudonymiser
    from streams.rules import DEFAULT_RULESET, load_ruleset

    try:
        from streams.engine import FAR_FUTURE, Engine

        version = "engine"
    except ImportError:  # the version with two stages and streams/rules/engine.py
        from streams.backtest import FAR_FUTURE  # type: ignore[attr-defined]
        from streams.rules import Engine  # type: ignore[attr-defined,no-redef,unused-ignore]

        version = "two-stage"
    if tuned_gc:
        gc.set_threshold(50_000, 50, 100)
    raw: list[tuple[str, bytes]] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            value = record["value"]
            if version == "two-stage" and record["topic"] == "health.visits":
                value.pop("park", None)  # its visits had no park (and refuse unknown fields)
            raw.append((record["topic"], json.dumps(value, ensure_ascii=False).encode()))

    def replay() -> tuple[float, int]:
        started = time.perf_counter()
        ingestor = Ingestor(
            Pseudonymiser(b"bench" * 8), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
        )
        events: list[Any] = []
        for topic, value in raw:
            accepted = ingestor.ingest(topic, value, now=FAR_FUTURE)
            if isinstance(accepted, Accepted):
                events.append(canonical(accepted, version))
        events.sort(key=lambda e: e.event_time)
        rules = load_ruleset(DEFAULT_RULESET)
        if version == "engine":
            engine = Engine(rules, record=False)
            decided = 0
            for event in events:
                engine.feed(event)
                decided += len(engine.take().decisions)
            engine.advance(FAR_FUTURE)
            decided += len(engine.take().decisions)
        else:
            engine = Engine(rules)
            for event in events:
                engine.feed(event)
            engine.advance(FAR_FUTURE)
            decided = len(engine.decisions)
        return time.perf_counter() - started, decided

    seconds, decided = [], 0
    for _ in range(runs):
        elapsed, decided = replay()
        seconds.append(elapsed)
    median = statistics.median(seconds)
    print(
        json.dumps(
            {
                "version": version,
                "tuned_gc": tuned_gc,
                "events": len(raw),
                "decisions": decided,
                "seconds": seconds,
                "events_per_second": len(raw) / median,
                "us_per_event": median / len(raw) * 1e6,
            }
        )
    )


def canonical(accepted: Any, version: str) -> Any:
    """The canonical event the version's replay path fed its engine: the ingested object now;
    then, the canonical JSON validated again (as its stages did)."""
    if version == "engine":
        return accepted.event
    from streams.topics import spec

    model = spec(accepted.topic).model
    assert model is not None
    return model.model_validate_json(accepted.value)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tuned-gc")
