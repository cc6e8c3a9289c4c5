"""``exit_in_time`` (DOMAIN rule 14): a vehicle let into the park leaves within the window. An
alert when its exit comes too late, or when the window passes with no exit at all. Only for
vehicles inside: a held, denied or turned-away truck never entered (a truck waiting at the gate
is ``gate_wait``'s). The clock runs from the entry's anchor: its time, or its arrival if late."""

from __future__ import annotations

from datetime import datetime, timedelta

from streams.rules.kinds.base import Alarm, Kind, Rule, Tracked, rule_window, subject_applies
from streams.words import Language, say


def key(entry_id: str) -> str:
    return f"dwell:{entry_id}"


def _inside(rule: Rule, t: Tracked, out_of_area: bool) -> bool:
    return t.released and t.outcome == "release" and subject_applies(rule, t.entry, out_of_area)


def due(rule: Rule | None, t: Tracked, out_of_area: bool) -> datetime | None:
    """When the park's clock must look at it again: the end of the window, while it is inside
    with no exit and not yet alerted."""
    if rule is None or t.exited is not None or t.alerted(key(t.entry.event_id)):
        return None
    return t.anchor + rule_window(rule) if _inside(rule, t, out_of_area) else None


def on_due(rule: Rule | None, t: Tracked, language: Language) -> Alarm:
    assert rule is not None  # (due says None without one)
    at = t.anchor + rule_window(rule)
    return Alarm(rule.id, rule.severity, key(t.entry.event_id), overdue(rule, language), at)


def overdue(rule: Rule, language: Language) -> str:
    assert rule.window is not None
    return say(language, "alert.dwell_overdue", cap=_hours(rule.window))


def at_exit(
    rule: Rule, t: Tracked, out_of_area: bool, left: datetime, language: Language
) -> str | None:
    """The alert's message if the exit came too late."""
    assert rule.window is not None
    stayed = left - t.entry.event_time
    if t.released and subject_applies(rule, t.entry, out_of_area) and stayed > rule.window:
        return say(language, "alert.dwell_at_exit", stayed=_hours(stayed), cap=_hours(rule.window))
    return None


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}"


KIND = Kind("exit_in_time", "vehicle", needs_window=True, several=False, due=due, on_due=on_due)
