"""``gate_wait``: a vehicle held at the gate longer than the window, with no officer's resolution
yet, raises "held at the gate too long" for the gate's duty officer (labelled with the gate).
The clock runs from the entry's anchor and stops when the hold ends: a new decision that
releases or denies it, or an officer's resolution."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from streams.rules.kinds.base import Kind, Tracked

if TYPE_CHECKING:
    from streams.rules.ruleset import Rule

KIND = Kind("gate_wait", "vehicle", needs_window=True, several=False)


def key(entry_id: str) -> str:
    return f"gate-wait:{entry_id}"


def due(rule: Rule, t: Tracked) -> datetime | None:
    if t.outcome == "hold" and not t.resolved and not t.alerted(key(t.entry.event_id)):
        assert rule.window is not None
        return t.anchor + rule.window
    return None


def message(rule: Rule, gate: str, waiting: list[str]) -> str:
    assert rule.window is not None
    minutes = int(rule.window.total_seconds() // 60)
    why = "; ".join(waiting[:4]) or "no reason recorded"
    return f"held at gate {gate} for over {minutes} min: {why}"
