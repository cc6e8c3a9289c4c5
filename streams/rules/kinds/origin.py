"""``origin_risk`` (DOMAIN rule 4): the origin region's colour over the look-back window. Yellow
fails with the rule's outcome; red denies and pages as critical. A region the risk-area topic has
never named is green: areas are designated red or yellow, everything else is not."""

from __future__ import annotations

from streams.rules.kinds.base import (
    Judging,
    Kind,
    Result,
    Rule,
    Severity,
    pages_if_alerting,
    result,
    rule_window,
)


def judge(rule: Rule, j: Judging) -> Result:
    window = rule_window(rule)
    at, region = j.entry.event_time, j.entry.origin_region
    start = at - window
    before = [c for t, c in j.risk if t <= start]
    colours = ([before[-1]] if before else []) + [c for t, c in j.risk if start < t <= at]
    days = window.days
    if "red" in colours:
        reason = f"origin {region} was red within {days} days"
        return result(rule, None, "fail", reason, [j.ref], "deny")
    if "yellow" in colours:
        return result(rule, None, "fail", f"origin {region} was yellow within {days} days", [j.ref])
    return result(rule, None, "pass", "origin not red or yellow", [j.ref])


def pages(rule: Rule, result_: Result) -> Severity | None:
    if result_.status == "fail" and result_.outcome == "deny":
        return "critical"
    return pages_if_alerting(rule, result_)


KIND = Kind("origin_risk", "vehicle", needs_window=True, judge=judge, pages=pages)
