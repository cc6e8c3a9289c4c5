"""``sentinel bench --screens 20``: what one worker's gate board serves to many open screens
while the 2022 story runs through it.

Three phases of ``PHASE`` seconds each, the story being sent all along (so the board changes
every second): no screen (the worker's CPU without them); ``screens`` screens on the pushed
stream, as the board page opens it (pushes received a second, the worker's CPU); and as many
clients asking ``/api/board`` as fast as they can (requests served a second, their latency), the
most a worker's board can answer, one request after another on each.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from datetime import datetime
from typing import Any

import aiohttp

from streams.settings import Settings
from workbench.bench import Bench, LiveRun, bench_run
from workbench.bench.scale import cpu_seconds
from workbench.stack._process import Progress

PHASE = 30.0


def run_screens(settings: Settings, screens: int, progress: Progress) -> int:
    from streams.jsonl import envelope
    from workbench.playback import produce
    from workbench.simulator.jinshan import Params, generate

    _, isolated = bench_run(settings)  # LiveRun makes its topics and database, and drops them
    records = [envelope(t, e) for t, e in generate(Params(seed=1)).events]
    live = LiveRun(Bench(isolated, len(records), 1, progress), "screens")
    figures: dict[str, Any] = {"screens": screens, "phase_seconds": PHASE}
    try:
        live.start_worker()
        url, worker = live.board_url(), live.workers[0]
        # The story paced to last the three phases: the board changes all along.
        times = [datetime.fromisoformat(r["value"]["event_time"]) for r in records]
        span = (max(times) - min(times)).total_seconds()
        sender = threading.Thread(
            target=produce,
            args=(live.settings, records, len(records)),
            kwargs={"speed": span / (3 * PHASE + 5), "label": "the 2022 story"},
            daemon=True,
        )
        sender.start()
        time.sleep(5)  # the worker busy with it before measuring
        cpu = cpu_seconds([worker])
        time.sleep(PHASE)
        figures["cpu_share_no_screen"] = (cpu_seconds([worker]) - cpu) / PHASE
        progress(f"no screen: the worker used {figures['cpu_share_no_screen']:.0%} of a core")
        cpu = cpu_seconds([worker])
        pushes = asyncio.run(watch(url, screens))
        figures["cpu_share_screens"] = (cpu_seconds([worker]) - cpu) / PHASE
        figures["pushes_per_second"] = sum(pushes) / PHASE
        figures["pushes_per_screen_per_second"] = [n / PHASE for n in pushes]
        progress(
            f"{screens} screens on the stream: {figures['pushes_per_second']:.1f} pushes a second "
            f"in all, the worker at {figures['cpu_share_screens']:.0%} of a core"
        )
        served, latencies = asyncio.run(hammer(url, screens))
        figures["requests_per_second_flat_out"] = served / PHASE
        figures["latency_ms_p50"] = 1000 * statistics.median(latencies)
        figures["latency_ms_p95"] = 1000 * statistics.quantiles(latencies, n=20)[-1]
        progress(
            f"{screens} clients asking flat out: {figures['requests_per_second_flat_out']:.0f} "
            f"requests a second, p50 {figures['latency_ms_p50']:.0f} ms, p95 "
            f"{figures['latency_ms_p95']:.0f} ms"
        )
        sender.join()  # the story's last seconds, so that nothing is left unsent at exit
    finally:
        live.stop()
        live.drop()
    print(json.dumps(figures, indent=2))
    return 0


async def watch(url: str, screens: int) -> list[int]:
    """``screens`` screens on the board's stream for ``PHASE`` seconds: pushes each received."""

    async def screen(session: aiohttp.ClientSession) -> int:
        received = 0
        async with session.get(f"{url}api/board/events") as response:
            deadline = time.monotonic() + PHASE
            async for line in response.content:
                if line.startswith(b"data: "):
                    json.loads(line[6:])  # a whole board, as a screen parses it
                    received += 1
                if time.monotonic() >= deadline:
                    break
        return received

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PHASE + 30)) as session:
        return list(await asyncio.gather(*(screen(session) for _ in range(screens))))


async def hammer(url: str, clients: int) -> tuple[int, list[float]]:
    """``clients`` clients asking ``/api/board`` one request after another for ``PHASE``
    seconds: requests answered, and each one's latency."""
    latencies: list[float] = []
    deadline = time.monotonic() + PHASE

    async def client(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            async with session.get(f"{url}api/board") as response:
                await response.read()
            latencies.append(time.monotonic() - started)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return len(latencies), latencies
