"""``antigen_negative`` (DOMAIN rule 2): a negative on-site antigen taken within the window around
the crossing. A positive denies (an officer cannot release past it). A missing result is
*pending* for ``grace`` after the entry, and after that too while the park's antigen results are
read only up to the deadline (their producer is late: absence is not yet evidence); then it is a
failure."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas import Occupant
from streams.rules.kinds.base import Evidence, Judging, Kind, Result, Rule, result

CROSSING = timedelta(hours=2)  # the default window of an on-site test around the crossing


def window_of(j: Judging) -> timedelta:
    rules = j.rules.of_kind("antigen_negative")
    return rules[0].window or CROSSING if rules else CROSSING


def results(j: Judging, person: str, outcome: str) -> list[Evidence]:
    """The person's on-site antigen results of ``outcome`` around this crossing."""
    window = window_of(j)
    at = j.entry.event_time
    return [
        e
        for e in j.evidence(person)
        if e.kind == "antigen" and e.result == outcome and at - window <= e.time <= at + window
    ]


def deadline(rule: Rule, anchor: datetime) -> datetime:
    """When a missing result stops being pending: ``grace`` after the entry's ``anchor`` (the
    park's clock waits for the park's results to be read this far, too)."""
    return anchor + (rule.grace or timedelta(0))


def judge(rule: Rule, j: Judging, occupant: Occupant) -> Result:
    person = occupant.person
    positive = results(j, person, "positive")
    if positive:
        return result(rule, person, "fail", "positive on-site antigen", [positive[-1].ref], "deny")
    negative = results(j, person, "negative")
    if negative:
        return result(rule, person, "pass", "negative on-site antigen", [negative[-1].ref])
    due = deadline(rule, j.anchor)
    if j.watermark < due:
        return result(rule, person, "pending", "pending: on-site antigen result not in yet")
    if j.antigen_clock < due:
        read = f"{j.antigen_clock:%H:%M}" if j.antigen_clock.year > 1970 else "none yet"
        return result(
            rule,
            person,
            "pending",
            f"pending: the park's antigen results are read only up to {read}",
        )
    minutes = int((rule.grace or timedelta(0)).total_seconds() // 60)
    return result(rule, person, "fail", f"no on-site antigen result within {minutes} min")


def positive_result(result_: Result) -> bool:
    return result_.outcome == "deny"


def reads(rule: Rule, evidence: Evidence, at: datetime) -> bool:
    window = rule.window or CROSSING
    return evidence.kind == "antigen" and at - window <= evidence.time <= at + window


KIND = Kind(
    "antigen_negative",
    "person",
    needs_window=True,
    several=False,  # the NAT remedy and the grace clock read the one antigen rule
    judge=judge,
    hard_limit=positive_result,
    options=frozenset({"grace"}),
    reads=reads,
)
