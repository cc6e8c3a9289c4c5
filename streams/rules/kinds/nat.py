"""``nat_negative`` (DOMAIN rule 1): a negative NAT sampled within the window before the entry,
presented at the gate or reported by a lab. With ``remedy: antigen_negative`` a negative on-site
antigen releases the occupant, the NAT to follow (the status stays *fail*)."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas import Occupant
from streams.rules.kinds import antigen
from streams.rules.kinds.base import Evidence, Judging, Kind, Result, Rule, result, rule_window


def judge(rule: Rule, j: Judging, occupant: Occupant) -> Result:
    window = rule_window(rule)
    at = j.entry.event_time
    earliest = at - window
    person = occupant.person
    sampled = occupant.nat_sample_time
    if sampled and occupant.nat_result == "negative" and earliest <= sampled <= at:
        return result(rule, person, "pass", "negative NAT presented", [j.ref])
    reports = [
        e
        for e in j.evidence(person)
        if e.kind == "nat" and e.result == "negative" and earliest <= e.time <= at
    ]
    if reports:
        return result(rule, person, "pass", "negative NAT reported by a lab", [reports[-1].ref])
    hours = int(window.total_seconds() // 3600)
    if rule.remedy == "antigen_negative":
        negative = antigen.results(j, person, "negative")
        if negative:
            reason = f"no negative NAT within {hours} h; released on a negative on-site antigen"
            return result(
                rule, person, "fail", reason + ": follow the NAT", [negative[-1].ref], "release"
            )
    if "nat" in j.lagging:
        return result(rule, person, "pending", "pending: lab reports are read too late to tell")
    reason = f"no negative NAT sampled within {hours} h before entry"
    return result(rule, person, "fail", reason, [j.ref])  # what was presented


def reads(rule: Rule, evidence: Evidence, at: datetime) -> bool:
    """A lab report sampled in the window before the entry; with the remedy, an antigen result
    around the crossing."""
    if evidence.kind == "nat":
        return at - rule_window(rule) <= evidence.time <= at
    window = antigen.CROSSING if rule.remedy else timedelta(0)
    return rule.remedy is not None and at - window <= evidence.time <= at + window


KIND = Kind(
    "nat_negative",
    "person",
    needs_window=True,
    judge=judge,
    options=frozenset({"remedy"}),
    reads=reads,
)
