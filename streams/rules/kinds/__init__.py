"""The rule kinds: one module per kind of evidence a rule can ask for, and this catalogue.

A kind says, in one place, whom it judges (each occupant, or the vehicle), whether its rules need
a window, whether a rule set may hold several rules of it, how it judges (``judge``), what a
failure pages, and whether an officer may release past it (``hard_limit``). The engine
(``streams/engine``) applies every rule of every kind the same way; adding a judged kind is a
module here and a line in :data:`KINDS`.

Three kinds are not judged at the gate but by the park's clock (:data:`DEADLINES`): ``gate_wait``
(held at the gate too long), ``exit_in_time`` (dwell inside the park) and ``visits`` (the
consignee's health visits after a release). Each says when an entry is due (``Kind.due``) and
what passing it does (``Kind.on_due``); the engine keeps the clock and knows none by name.
"""

from __future__ import annotations

from streams.rules.kinds import (
    antigen,
    code_colour,
    dwell,
    evasion,
    gate_wait,
    nat,
    origin,
    papers,
    positive,
    roster,
    visits,
)
from streams.rules.kinds.base import (
    Evidence,
    Judging,
    Kind,
    Ref,
    Result,
    Stop,
)

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        nat.KIND,
        antigen.KIND,
        code_colour.KIND,
        roster.KIND,
        positive.KIND,
        origin.KIND,
        *papers.KINDS,
        evasion.KIND,
        visits.KIND,
        dwell.KIND,
        gate_wait.KIND,
    )
}

# The deadline kinds, in the order the clock acts on an entry's deadlines passed together.
DEADLINES: tuple[Kind, ...] = (gate_wait.KIND, dwell.KIND, visits.KIND)

__all__ = ["DEADLINES", "KINDS", "Evidence", "Judging", "Kind", "Ref", "Result", "Stop"]
