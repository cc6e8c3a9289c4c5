"""``sentinel bench --scale-out``: what more workers and more partitions cost, on this machine.

A 2-core machine cannot show the speed-up of three workers (they, Kafka and ClickHouse share its
two cores), so this measures efficiency instead: the CPU-seconds the workers spend (all of them,
summed from /proc) per 1,000 raw events decided, with 1, 2 and 3 workers on the same preloaded
events spread over many parks; and what the partition count costs a restart: the seconds from
starting a worker to its being ready (its parks' state restored) with 8, 32 and 128 partitions.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from streams.settings import Settings
from workbench.bench import Bench, LiveRun, bench_records, bench_run, clean_up
from workbench.stack._process import Progress

PARKS = 48  # the load spreads over this many parks: each of 3 workers gets some
WORKERS = (1, 2, 3)
PARTITIONS = (8, 32, 128)


def run_scale_out(settings: Settings, events: int, progress: Progress) -> int:
    run_id, isolated = bench_run(settings)  # each measure's LiveRun makes its own under it
    progress(f"generating {events:,} raw events over {PARKS} parks")
    records = bench_records(events, parks=PARKS)
    entries = sum(1 for r in records if r["topic"] == "gate.entries")
    figures: dict[str, Any] = {"events": events, "parks": PARKS, "cores": os.cpu_count()}
    try:
        figures["workers"] = [
            per_worker_cost(Bench(isolated, events, 1, progress), records, entries, n)
            for n in WORKERS
        ]
        figures["partitions"] = [
            restart_cost(
                Bench(isolated.model_copy(update={"partitions": n}), events, 1, progress),
                records,
                entries,
            )
            for n in PARTITIONS
        ]
    finally:
        clean_up(isolated, run_id, progress)
    print(report(figures))
    path = settings.state_dir / "bench" / f"scale-out-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2))
    print(f"figures saved to {path}")
    return 0


def per_worker_cost(
    bench: Bench, records: list[dict[str, Any]], entries: int, workers: int
) -> dict[str, float]:
    """``workers`` workers through the preloaded events: the rate, and the CPU they spent from
    all being ready to every entry decided."""
    from workbench.playback import produce

    live = LiveRun(bench, f"scale{workers}")
    produce(live.settings, records, len(records), label=f"{workers} worker(s): preloading")
    try:
        for _ in range(workers):
            live.start_worker()
        cpu, started = cpu_seconds(live.workers), time.perf_counter()
        live.wait_decided(entries, f"{workers} worker(s): entries decided")
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(live.workers) - cpu
    finally:
        live.stop()
        live.drop()
    return {
        "workers": workers,
        "events_per_second": len(records) / seconds,
        "cpu_seconds_per_1000_events": 1000 * cpu / len(records),
        "busy_cores": cpu / seconds,
    }


def restart_cost(bench: Bench, records: list[dict[str, Any]], entries: int) -> dict[str, float]:
    """One worker through the events, stopped, and started again: seconds until it is ready,
    its state restored from the changelog."""
    from workbench.playback import produce

    partitions = bench.settings.partitions
    live = LiveRun(bench, f"part{partitions}")
    produce(live.settings, records, len(records), label=f"{partitions} partitions: preloading")
    try:
        first = live.start_worker()
        live.wait_decided(entries, f"{partitions} partitions: entries decided")
        live.stop()
        again = live.start_worker()
    finally:
        live.stop()
        live.drop()
    return {"partitions": partitions, "first_ready_seconds": first, "restart_ready_seconds": again}


def cpu_seconds(processes: list[Any]) -> float:
    """User + system CPU of these processes so far (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for process in processes:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"scale-out: {figures['events']:,} raw events over {figures['parks']} parks, "
        f"{figures['cores']} cores",
        "workers  events/s  CPU-s per 1,000 events  busy cores  CPU per event vs 1 worker",
    ]
    base = figures["workers"][0]["cpu_seconds_per_1000_events"]
    for row in figures["workers"]:
        lines.append(
            f"{row['workers']:>7}  {row['events_per_second']:>8,.0f}  "
            f"{row['cpu_seconds_per_1000_events']:>22.2f}  {row['busy_cores']:>10.2f}  "
            f"{row['cpu_seconds_per_1000_events'] / base:>24.2f}x"
        )
    lines.append("partitions  first start, ready (s)  restart after the events, ready (s)")
    for row in figures["partitions"]:
        lines.append(
            f"{row['partitions']:>10}  {row['first_ready_seconds']:>23.1f}  "
            f"{row['restart_ready_seconds']:>35.1f}"
        )
    return "\n".join(lines)
