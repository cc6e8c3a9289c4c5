"""``gate_wait``: a vehicle held at the gate longer than the window, with no officer's resolution
yet, raises "held at the gate too long" for the gate's duty officer (labelled with the gate).
The clock runs from the entry's anchor and stops when the hold ends: a new decision that
releases or denies it, or an officer's resolution."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from streams.rules.kinds.base import Kind, Rule, Tracked
from streams.words import Language, rule_words, say

KIND = Kind("gate_wait", "vehicle", needs_window=True, several=False)


def key(entry_id: str) -> str:
    return f"gate-wait:{entry_id}"


def due(rule: Rule, t: Tracked) -> datetime | None:
    if t.outcome == "hold" and not t.resolved and not t.alerted(key(t.entry.event_id)):
        assert rule.window is not None
        return t.anchor + rule.window
    return None


def message(rule: Rule, gate: str, failed: Sequence[str], language: Language) -> str:
    """The alert's summary: the gate, the wait, and the ``failed`` rules (their ids) in the
    officer's words (a hold with none failed waits for evidence)."""
    assert rule.window is not None
    minutes = int(rule.window.total_seconds() // 60)
    words = [rule_words(language, r, "why") for r in dict.fromkeys(failed)][:4]
    why = "; ".join(words) or say(language, "pending.why")
    return say(language, "alert.gate_wait", gate=gate, minutes=minutes, why=why)
