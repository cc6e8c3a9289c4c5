"""Release decision for a vehicle entry, judged as of the entry's event time.

This is the walking skeleton's rule set: rule 1 of DOMAIN.md only (every occupant of a hazmat
vehicle presents a negative NAT sampled within 48 h before the check; otherwise hold).
"""

from __future__ import annotations

from datetime import timedelta

from schemas import Decision, RuleResult, VehicleEntry

SKELETON_RULESET = "skeleton-1"
NAT_WINDOW = timedelta(hours=48)


def decide_entry(entry: VehicleEntry, ruleset_version: str = SKELETON_RULESET) -> Decision:
    results = (_nat_within_window(entry),)
    failed = [r for r in results if not r.passed]
    outcome = "hold" if failed else "release"
    return Decision(
        event_id=f"{entry.event_id}:0",
        event_time=entry.event_time,
        entry_id=entry.event_id,
        revision=0,
        park=entry.park,
        gate=entry.gate,
        plate=entry.plate,
        outcome=outcome,
        rules=results,
        ruleset_version=ruleset_version,
    )


def _nat_within_window(entry: VehicleEntry) -> RuleResult:
    rule = "nat_48h"
    if not entry.hazmat:
        return RuleResult(rule=rule, passed=True, outcome="release", reason="not a hazmat vehicle")
    missing = []
    for number, occupant in enumerate(entry.occupants, start=1):
        sampled = occupant.nat_sample_time
        valid = (
            occupant.nat_result == "negative"
            and sampled is not None
            and sampled <= entry.event_time <= sampled + NAT_WINDOW
        )
        if not valid:
            missing.append(f"occupant {number} ({occupant.role})")
    if missing:
        return RuleResult(
            rule=rule,
            passed=False,
            outcome="hold",
            reason="no negative NAT sampled within 48 h: " + ", ".join(missing),
        )
    return RuleResult(rule=rule, passed=True, outcome="release", reason="all occupants negative")
