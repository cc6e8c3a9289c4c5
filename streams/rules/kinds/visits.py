"""``visits`` (DOMAIN rule 11): the consignee enterprise visits each out-of-area driver at least
``minimum`` times within the window after the entry. The obligation starts at the entry's first
release; a visit naming the entry serves it, a visit naming none serves the driver's oldest open
one; when the window passes unmet, an alert goes to the enterprise."""

from __future__ import annotations

from datetime import datetime

from schemas import VehicleEntry
from streams.rules.kinds.base import Alarm, Kind, Obligation, Rule, Tracked
from streams.words import Language, say

RULE = "health_visits"  # what an overdue obligation pages as when the set has no visits rule


def obligation(
    rule: Rule, entry: VehicleEntry, anchor: datetime, out_of_area: bool
) -> Obligation | None:
    """The obligation an entry's first release starts, if its driver is out of area."""
    if not out_of_area or rule.window is None:
        return None
    driver = next(o for o in entry.occupants if o.role == "driver")
    return Obligation(
        person=driver.person,
        enterprise=entry.consignee or "unknown",
        due=anchor + rule.window,
        required=rule.minimum,
    )


def serves(ob: Obligation, entry_time: datetime, visit_time: datetime, visit_id: str) -> bool:
    """Whether a visit at ``visit_time`` can count for this obligation."""
    return ob.state == "open" and entry_time <= visit_time <= ob.due and visit_id not in ob.visits


def serve(ob: Obligation, visit_id: str) -> None:
    ob.visits.append(visit_id)
    if len(ob.visits) >= ob.required:
        ob.state = "met"


def key(entry_id: str, person: str) -> str:
    return f"visits-overdue:{entry_id}:{person}"


def message(ob: Obligation, language: Language) -> str:
    return say(
        language,
        "alert.visits",
        enterprise=ob.enterprise,
        made=len(ob.visits),
        required=ob.required,
    )


def due(rule: Rule | None, t: Tracked, out_of_area: bool) -> datetime | None:
    """An open obligation's end (it stays owed when a new rule set has no visits rule)."""
    ob = t.obligation
    return ob.due if ob is not None and ob.state == "open" else None


def on_due(rule: Rule | None, t: Tracked, language: Language) -> Alarm:
    """The obligation is overdue: the enterprise is paged."""
    ob = t.obligation
    assert ob is not None  # (due says None without one)
    ob.state = "overdue"
    return Alarm(
        rule.id if rule else RULE,
        rule.severity if rule else "warning",
        key(t.entry.event_id, ob.person),
        message(ob, language),
        ob.due,
        subject=ob.person,
        enterprise=ob.enterprise,
    )


KIND = Kind(
    "visits",
    "person",
    needs_window=True,
    several=False,
    options=frozenset({"minimum"}),
    due=due,
    on_due=on_due,
)

__all__ = ["KIND", "Obligation", "due", "key", "message", "obligation", "on_due", "serve", "serves"]
