"""``no_positive`` (DOMAIN rule 15): no positive antigen or NAT, presented or on record, from the
window before the entry on. A positive denies, and no officer may release past it. The positive
itself is paged once, where it is learnt (``streams/engine``), and traced; a positive after a
release makes a new revision of that entry's decision."""

from __future__ import annotations

from datetime import datetime

from schemas import Occupant
from streams.rules.kinds.base import (
    Evidence,
    Judging,
    Kind,
    Result,
    Rule,
    Severity,
    result,
    rule_window,
)


def judge(rule: Rule, j: Judging, occupant: Occupant) -> Result:
    person = occupant.person
    at = j.entry.event_time
    earliest = at - rule_window(rule)
    if occupant.nat_result == "positive":
        return result(rule, person, "fail", "presented a positive NAT", [j.ref], "deny")
    positives = [e for e in j.evidence(person) if e.result == "positive" and e.time >= earliest]
    if positives:
        first = min(positives, key=lambda e: e.time)
        when = "before" if first.time <= at else "after"
        reason = f"positive {first.kind} {when} the entry"
        return result(rule, person, "fail", reason, [p.ref for p in positives], "deny")
    if "positives" in j.lagging:
        return result(rule, person, "pending", "pending: positives elsewhere are read too late")
    return result(rule, person, "pass", "no positive result on record")


def pages(rule: Rule, result_: Result) -> Severity | None:
    return None  # the positive result pages itself, once, wherever it is learnt


def hard_limit(result_: Result) -> bool:
    return result_.status == "fail"


def reads(rule: Rule, evidence: Evidence, at: datetime) -> bool:
    """A positive from the window before the entry on."""
    window = rule_window(rule)
    return evidence.result == "positive" and evidence.time >= at - window


KIND = Kind(
    "no_positive",
    "person",
    needs_window=True,
    judge=judge,
    pages=pages,
    hard_limit=hard_limit,
    reads=reads,
)
