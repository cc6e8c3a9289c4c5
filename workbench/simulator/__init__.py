"""``sentinel simulate``: the traffic of DOMAIN.md with the story's incidents, as raw events."""

from __future__ import annotations

import argparse
import json
import sys
import time

from streams.jsonl import envelope, write_jsonl
from streams.settings import Settings
from workbench.playback import produce
from workbench.simulator.jinshan import Params, Scenario, generate

__all__ = ["Params", "Scenario", "generate", "run_simulate"]


def run_simulate(settings: Settings, args: argparse.Namespace) -> int:
    started = time.monotonic()
    params = Params(
        seed=args.seed, hazmat_share=args.hazmat_share, positive_rate=args.positive_rate
    )
    print(f"... generating {args.scenario} with seed {args.seed}", file=sys.stderr)
    scenario = generate(params)
    truth = scenario.truth
    if args.out is not None:
        write_jsonl(scenario.events, args.out / "events.jsonl", total=len(scenario.events))
        (args.out / "ground_truth.json").write_text(
            json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if args.kafka:
        records = (envelope(topic, event) for topic, event in scenario.events)
        produce(settings, records, len(scenario.events), speed=args.speed, label="sending to Kafka")
    print(
        f"{truth['total_entries']:,} entries from 2022-04-01 to 2022-05-09; peak "
        f"{truth['peak_entries']} on {truth['peak_date']}; {len(scenario.events):,} events "
        f"({', '.join(f'{t} {n:,}' for t, n in truth['events_by_topic'].items())})"
    )
    print(
        f"incidents: {truth['expired_nat_entries']} expired NATs, {truth['positives']} positive, "
        f"the 27-passenger car at 2 gates, 1 person on no roster, "
        f"{truth['overdue_visits']} of {truth['visit_obligations']} visit obligations missed, "
        f"{truth['dwell_violations']} dwell violations"
    )
    where = [str(args.out)] if args.out is not None else []
    where += [settings.kafka_bootstrap] if args.kafka else []
    print(f"written to {' and '.join(where)} in {time.monotonic() - started:.1f} s")
    return 0
