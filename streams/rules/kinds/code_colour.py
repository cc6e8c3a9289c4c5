"""``code_colour`` (DOMAIN rule 3): the health code scanned at the gate. Green passes; yellow
fails with the rule's outcome; red denies and pages as critical (deny and isolate), and no
officer may release past it; no colour presented fails with the rule's outcome."""

from __future__ import annotations

from schemas import Occupant
from streams.rules.kinds.base import (
    Judging,
    Kind,
    Result,
    Rule,
    Severity,
    pages_if_alerting,
    reads_nothing,
    result,
)


def judge(rule: Rule, j: Judging, occupant: Occupant) -> Result:
    person, colour = occupant.person, occupant.code_colour
    if colour == "green":
        return result(rule, person, "pass", "green health code", [j.ref])
    if colour == "red":
        return result(rule, person, "fail", "red health code: deny and isolate", [j.ref], "deny")
    if colour == "yellow":
        return result(rule, person, "fail", "yellow health code", [j.ref])
    return result(rule, person, "fail", "no health-code colour presented", [j.ref])


def pages(rule: Rule, result_: Result) -> Severity | None:
    return "critical" if red(result_) else pages_if_alerting(rule, result_)


def red(result_: Result) -> bool:
    return result_.status == "fail" and result_.outcome == "deny"


KIND = Kind("code_colour", "person", judge=judge, pages=pages, hard_limit=red, reads=reads_nothing)
