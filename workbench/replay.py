"""``sentinel replay``: history (a file of past events) through the pipeline in a namespace of
its own, so that its clock is its own: its topics, worker group and database, and a worker for it.

Sending history to a namespace whose clock has already gone further (a demo's entries at
today's time, then 2022) would make every 2022 event late: counted and kept aside, its deadlines
run from its arrival; the figures would not be the story's. ``sentinel produce`` refuses that
and points here.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from streams import access
from streams.jsonl import read_jsonl
from streams.migrate import migrate
from streams.progress import wait_while_moving
from streams.settings import Settings
from streams.status import Status, read_status
from streams.topics import create_topics
from workbench.detach import start_detached
from workbench.playback import produce
from workbench.simulator.jinshan import in_park_language
from workbench.stack._process import Progress

SLACK = timedelta(days=1)  # history this much behind a namespace's clock is refused by produce
STALL = 300.0  # seconds of no progress at all before a replay gives up


class HistoryError(Exception):
    """The events are behind what the namespace has seen; the message says where to send them."""


def default_namespace(path: Path) -> str:
    """A namespace named after the file's directory (``/tmp/jinshan/events.jsonl``: jinshan)."""
    name = re.sub(r"[^a-z0-9-]+", "-", path.resolve().parent.name.lower()).strip("-")[:30]
    return name or "history"


def earliest_by_park(path: Path) -> dict[str, datetime]:
    """The earliest event time of the file's park events, per park."""
    first: dict[str, datetime] = {}
    for _, record in read_jsonl(path):
        value = record["value"]
        park, at = value.get("park"), value.get("event_time")
        if isinstance(park, str) and isinstance(at, str):
            when = datetime.fromisoformat(at)
            if park not in first or when < first[park]:
                first[park] = when
    return first


def check_not_behind(settings: Settings, path: Path, *, replaying: bool = False) -> None:
    """Refuse a file whose events are well behind what the namespace has seen at their park."""
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error as ClickHouseError

    client = Client.from_url(access.clickhouse_url(settings))
    try:
        seen = dict(client.execute("SELECT park, max(event_time) FROM entries GROUP BY park"))
    except (ClickHouseError, OSError, EOFError):
        return  # no database yet: nothing seen
    finally:
        client.disconnect()
    for park, first in earliest_by_park(path).items():
        latest = seen.get(park)
        if latest is None or first >= latest - SLACK:
            continue
        where = f"namespace {settings.namespace!r}" if settings.namespace else "this stack"
        behind = (
            f"the file's events at {park} start {first:%Y-%m-%d %H:%M}, but {where} has seen "
            f"{park} up to {latest:%Y-%m-%d %H:%M}"
        )
        if replaying:  # most likely this very history, replayed before
            raise HistoryError(
                f"{behind}: it holds this history already. Its figures: `sentinel --namespace "
                f"{settings.namespace} report`; a fresh run: `sentinel --namespace NEW replay "
                f"{path}`; to send the events again anyway (each counts once), add --late-ok"
            )
        raise HistoryError(
            f"{behind}: they would all arrive late and the figures would not be theirs. Run "
            f"history in a namespace of its own: `sentinel replay {path}` (or `sentinel "
            f"--namespace NAME produce {path}`), or pass --late-ok to send them here anyway"
        )


def run_replay(
    settings: Settings, path: Path, progress: Progress, *, late_ok: bool = False
) -> Status:
    """Send ``path`` into ``settings``' namespace, start its worker, and follow it to the end."""
    progress(
        f"namespace {settings.namespace}: topics {settings.topic_prefix}*, worker group "
        f"{settings.app_id}, database {settings.clickhouse_database}"
    )
    create_topics(settings)
    migrate(
        access.clickhouse_admin_url(settings),
        settings.clickhouse_database,
        settings.clickhouse_cluster,
    )
    if not late_ok:
        check_not_behind(settings, path, replaying=True)
    total = sum(1 for _ in read_jsonl(path))
    records: Any = (record for _, record in read_jsonl(path))
    produce(settings, records, total, label=f"sending {path.name}")
    progress(start_detached(in_park_language(settings), progress))
    last: list[Status] = []
    started = time.monotonic()

    def finished() -> Status | None:
        status = read_status(settings)
        progress(status.line(last[-1] if last else None))
        # Done twice in a row: the rollups' flush (every second) has come in between.
        settled = status.done and bool(last) and last[-1].done
        last.append(status)
        return status if settled else None

    done = wait_while_moving(
        finished,
        lambda: (last[-1].decide_lag, last[-1].sink_lag, last[-1].decided) if last else None,
        what=f"the replay of {path.name}",
        stall=STALL,
        interval=5,
    )
    progress(f"replayed in {time.monotonic() - started:,.0f} s")
    return done
