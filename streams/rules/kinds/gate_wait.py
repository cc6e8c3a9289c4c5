"""``gate_wait``: a vehicle held at the gate longer than the window, with no officer's resolution
yet, raises "held at the gate too long" for the gate's duty officer (labelled with the gate).
The clock runs from the entry's anchor and stops when the hold ends: a new decision that
releases or denies it, or an officer's resolution."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from streams.rules.kinds.base import Alarm, Kind, Rule, Tracked, rule_window
from streams.words import Language, rule_words, say


def key(entry_id: str) -> str:
    return f"gate-wait:{entry_id}"


def due(rule: Rule | None, t: Tracked, out_of_area: bool = False) -> datetime | None:
    """The end of the window, while it is held with no officer's resolution and not paged."""
    if rule is None or t.outcome != "hold" or t.resolved or t.alerted(key(t.entry.event_id)):
        return None
    return t.anchor + rule_window(rule)


def on_due(rule: Rule | None, t: Tracked, language: Language) -> Alarm:
    assert rule is not None  # (due says None without one)
    at = t.anchor + rule_window(rule)
    text = message(rule, t.entry.gate, t.not_passed, language)
    return Alarm(rule.id, rule.severity, key(t.entry.event_id), text, at)


def message(rule: Rule, gate: str, failed: Sequence[str], language: Language) -> str:
    """The alert's summary: the gate, the wait, and the ``failed`` rules (their ids) in the
    officer's words (a hold with none failed waits for evidence)."""
    assert rule.window is not None
    minutes = int(rule.window.total_seconds() // 60)
    words = [rule_words(language, r, "why") for r in dict.fromkeys(failed)][:4]
    why = "; ".join(words) or say(language, "pending.why")
    return say(language, "alert.gate_wait", gate=gate, minutes=minutes, why=why)


KIND = Kind("gate_wait", "vehicle", needs_window=True, several=False, due=due, on_due=on_due)
