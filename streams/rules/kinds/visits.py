"""``visits`` (DOMAIN rule 11): the consignee enterprise visits each out-of-area driver at least
``minimum`` times within the window after the entry. The obligation starts at the entry's first
release; a visit naming the entry serves it, a visit naming none serves the driver's oldest open
one; when the window passes unmet, an alert goes to the enterprise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from schemas import VehicleEntry
from streams.rules.kinds.base import Kind, Rule
from streams.words import Language, say

KIND = Kind("visits", "person", needs_window=True, several=False, options=frozenset({"minimum"}))


@dataclass(slots=True)
class Obligation:
    """The visits an enterprise owes one driver for one entry."""

    person: str
    enterprise: str
    due: datetime
    required: int
    visits: list[str] = field(default_factory=list)  # event ids of the visits that served it
    state: Literal["open", "met", "overdue"] = "open"


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
