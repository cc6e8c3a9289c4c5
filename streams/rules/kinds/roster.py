"""``roster`` (DOMAIN rule 13): every occupant on an enterprise roster or an appointment. A person
on none, or not checked at all, fails: an unknown subject is a finding (flagged and alerted with
``alert: true``), not an error."""

from __future__ import annotations

from schemas import Occupant
from streams.rules.kinds.base import Judging, Kind, Result, Rule, reads_nothing, result


def judge(rule: Rule, j: Judging, occupant: Occupant) -> Result:
    person = occupant.person
    if occupant.on_roster is True:
        return result(rule, person, "pass", "on a roster or appointment", [j.ref])
    if occupant.on_roster is False:
        return result(rule, person, "fail", "on no roster and no appointment", [j.ref])
    return result(rule, person, "fail", "not checked against any roster or appointment", [j.ref])


KIND = Kind("roster", "person", judge=judge, reads=reads_nothing)
