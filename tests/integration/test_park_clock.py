"""Each park's clock, through the real Kafka and a worker: an event behind its park's watermark
is copied to ``sentinel.late`` with its headers; two parks whose clocks are days apart keep
their own deadlines (the fast park's traffic fires none of the slow park's dwell, gate-wait or
visit deadlines, and its own all). Every wait follows the worker's committed offsets."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from schemas import GateHeartbeat
from streams.progress import wait_while_moving
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import STALL, Tail, Worker, drained, read_all
from tests.integration.test_rules_story import send

OUT_OF_AREA = "浙江省嘉兴市南湖区"  # a pass is made for it, and its drivers owe health visits


def alerts_by_entry(settings: Settings) -> dict[str, set[str]]:
    """The dedup keys of every alert sent, by the entry it names."""
    found: dict[str, set[str]] = {}
    for record in read_all(settings, "sentinel.alerts"):
        alert = json.loads(record.value)
        if alert.get("entry_id"):
            found.setdefault(alert["entry_id"], set()).add(alert["dedup_key"])
    return found


def test_an_event_behind_its_parks_watermark_goes_to_sentinel_late_with_its_headers(
    settings: Settings, worker: Worker
) -> None:
    park = f"late-{uuid.uuid4().hex[:6]}"
    early, later = story.people(1), story.people(1)
    at = story.T0
    send(
        settings,
        story.entry("late-ahead", later, at=at + timedelta(hours=2), park=park, plate="沪L12345"),
    )
    # The park's clock is at +2 h; its watermark follows, 10 min less, once its other inputs
    # have been idle a while (they could still bring earlier events).
    watermark = (at + timedelta(hours=2) - timedelta(minutes=10)).timestamp()
    wait_while_moving(
        lambda: worker.metric_of("sentinel_watermark_timestamp_seconds", park=park) == watermark,
        worker.signs,
        what=f"park {park}'s watermark",
        stall=STALL,
    )
    send(settings, story.entry("late-behind", early, at=at, park=park, plate="沪L54321"))
    drained(settings, "gate.entries")
    (late,) = [
        r for r in read_all(settings, "sentinel.late") if json.loads(r.value)["park"] == park
    ]
    assert json.loads(late.value)["event_id"] == "late-behind"
    assert late.key == park.encode()
    headers = {k: v.decode() for k, v in late.headers}
    assert headers["topic"] == "canonical.entries"
    assert datetime.fromisoformat(headers["watermark"]).timestamp() == watermark


def test_a_fast_parks_traffic_never_fires_a_slow_parks_deadlines(
    settings: Settings, worker: Worker
) -> None:
    slow, fast = f"slow-{uuid.uuid4().hex[:6]}", f"fast-{uuid.uuid4().hex[:6]}"
    at = story.T0
    events: list[tuple[str, Any]] = []
    for park in (slow, fast):
        crew, held = story.people(2), story.people(1)
        plates = [f"沪K{uuid.uuid4().int % 10**5:05d}" for _ in range(2)]  # never seen elsewhere
        events += [
            # let in, out of area, no exit: its dwell (6 h) and visits (7 d) deadlines run
            story.entry(f"{park}-in", crew, at=at, park=park, origin=OUT_OF_AREA, plate=plates[0]),
            *(story.antigen(f"{park}-ag-{n}", who, at, park=park) for n, who in enumerate(crew)),
            # held (no NAT) and never resolved: its gate-wait deadline (1 h) runs
            story.entry(
                f"{park}-held",
                held,
                at=at,
                park=park,
                nat_ages=[None],
                hazmat=False,
                plate=plates[1],
            ),
        ]
    send(settings, *events)
    drained(settings)
    # Only the fast park's gates go on: eight days later.
    beat = GateHeartbeat(
        event_id=f"beat-{fast}", event_time=at + timedelta(days=8), park=fast, gate="jinshanwei-1"
    )
    send(settings, ("gate.heartbeats", beat))
    watermark = (beat.event_time - timedelta(minutes=10)).timestamp()
    wait_while_moving(
        lambda: worker.metric_of("sentinel_watermark_timestamp_seconds", park=fast) == watermark,
        worker.signs,
        what=f"park {fast}'s watermark eight days on",
        stall=STALL,
    )
    Tail(settings, "sentinel.alerts").wait(  # the deadlines fired at that tick, sent together
        lambda r: json.loads(r.value)["dedup_key"].startswith(f"visits-overdue:{fast}-in:"),
        what="the fast park's overdue visits",
    )
    alerts = alerts_by_entry(settings)
    deadlines = ("dwell:", "gate-wait:", "visits-overdue:")
    fired = {
        entry: sorted(k.split(":")[0] for k in keys if k.startswith(deadlines))
        for entry, keys in alerts.items()
        if entry.startswith((slow, fast))
    }
    assert fired.get(f"{fast}-in") == ["dwell", "visits-overdue"]
    assert fired.get(f"{fast}-held") == ["gate-wait"]
    assert not fired.get(f"{slow}-in") and not fired.get(f"{slow}-held"), fired
