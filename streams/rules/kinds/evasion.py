"""``other_gate`` (DOMAIN rule 12): the plate was held or denied at another gate within the
window before this entry (at this park or another: stops reach every park). It fails with the
rule's outcome and alerts; a truck held for its antigen and then released is no longer a stop."""

from __future__ import annotations

from streams.rules.kinds.base import Judging, Kind, Result, Rule, result


def judge(rule: Rule, j: Judging) -> Result:
    entry = j.entry
    window = rule.window
    assert window is not None
    stopped = [
        s
        for s in j.stops()
        if s.entry_id != entry.event_id
        and (s.gate, s.park) != (entry.gate, entry.park)
        and s.time <= entry.event_time <= s.time + window
        and s.outcome in ("hold", "deny")
    ]
    if not stopped:
        return result(rule, None, "pass", "not stopped at another gate recently", [j.ref])
    first = min(stopped, key=lambda s: s.time)
    where = first.gate if first.park == entry.park else f"{first.gate} ({first.park})"
    reason = f"{first.outcome} at gate {where} at {first.time:%H:%M}, now at gate {entry.gate}"
    return result(rule, None, "fail", reason, [first.ref, j.ref])


KIND = Kind("other_gate", "vehicle", needs_window=True, several=False, judge=judge)
