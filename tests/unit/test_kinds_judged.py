"""The rule kinds judged one by one, each result pinned whole (status, outcome, reason, the
evidence it names) with its paging severity and whether an officer may release past it, at the
boundaries of their windows. Written against `make mutation`'s survivors: a kind whose outcome,
window edge or severity changes fails here (docs/testing.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas import VehicleEntry
from streams.rules.kinds import (
    DEADLINES,
    KINDS,
    Evidence,
    Judging,
    Ref,
    Result,
    Stop,
    dwell,
    gate_wait,
    visits,
)
from streams.rules.kinds.base import (
    Alarm,
    Kind,
    Obligation,
    RiskHistory,
    occupant_applies,
    subject_applies,
)
from streams.rules.ruleset import Rule
from tests.unit.test_rules_scenarios import RULES, T0, entry, occupant, person

REF = Ref("e1", "canonical.entries", 0)


def rule(rule_id: str, **change: Any) -> Rule:
    found = next(r for r in RULES.rules if r.id == rule_id)
    return found.model_copy(update=change)


def judging(the_entry: VehicleEntry, risk: RiskHistory = ()) -> Judging:
    return Judging(
        entry=the_entry,
        ref=REF,
        rules=RULES,
        anchor=the_entry.event_time,
        watermark=the_entry.event_time,
        antigen_clock=the_entry.event_time,
        lagging=frozenset(),
        evidence=lambda _: (),
        risk=risk,
    )


def vehicle(rule_id: str, the_entry: VehicleEntry, **change: Any) -> Result:
    the_rule = rule(rule_id, **change)
    return KINDS[the_rule.evidence].judge(the_rule, judging(the_entry))  # type: ignore[call-arg, misc]


def pages(rule_id: str, result: Result) -> str | None:
    the_rule = rule(rule_id)
    return KINDS[the_rule.evidence].pages(the_rule, result)


# -- the papers (DOMAIN rules 6-10) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_id", "missing", "passed", "failed", "outcome"),
    [
        ("pass", {"pass_id": None}, "pass present", "no pass", "hold"),
        ("appointment", {"appointment_id": None}, "appointment present", "no appointment", "deny"),
        (
            "waybill",
            {"waybill_id": None},
            "waybill with UN number and consignee present",
            "no waybill with UN number and consignee",
            "hold",
        ),
        (
            "waybill",
            {"consignee": None},
            "waybill with UN number and consignee present",
            "no waybill with UN number and consignee",
            "hold",
        ),
        (
            "escort_on_board",
            {"occupants": [occupant(1)]},
            "escort on board present",
            "no escort on board",
            "deny",
        ),
    ],
)
def test_each_paper_passes_when_present_and_fails_with_its_rules_outcome(
    rule_id: str, missing: dict[str, Any], passed: str, failed: str, outcome: str
) -> None:
    complete = entry(pass_id="pass-1")
    assert vehicle(rule_id, complete) == Result(rule_id, None, "pass", "release", passed, (REF,))
    without = vehicle(rule_id, entry(**{"pass_id": "pass-1", **missing}))
    assert without == Result(rule_id, None, "fail", outcome, failed, (REF,))
    assert pages(rule_id, without) is None  # none of them alerts in the bundled set


def test_the_waybill_needs_its_cargo_too() -> None:
    general = entry(hazmat=False, waybill_id="wb-1", consignee="ent-001")
    assert general.cargo is None
    assert vehicle("waybill", general).status == "fail"


def test_a_hazmat_truck_at_a_general_gate_is_denied_and_paged_critical() -> None:
    at_hazmat_gate = vehicle("gate_class", entry())
    assert at_hazmat_gate == Result("gate_class", None, "pass", "release", "hazmat gate", (REF,))
    wrong_gate = vehicle("gate_class", entry(gate_class="general", gate="tinglin-2"))
    assert wrong_gate == Result(
        "gate_class", None, "fail", "deny", "hazmat truck at general gate tinglin-2", (REF,)
    )
    assert pages("gate_class", wrong_gate) == "critical"
    assert pages("gate_class", at_hazmat_gate) is None


# -- the people at the gate (DOMAIN rules 3 and 13) -----------------------------------------


def person_result(rule_id: str, **fields: Any) -> Result:
    the_rule = rule(rule_id)
    crew = [occupant(1, **fields), occupant(2, "escort")]
    the_entry = entry(occupants=crew)
    return KINDS[the_rule.evidence].judge(  # type: ignore[call-arg, misc]
        the_rule, judging(the_entry), the_entry.occupants[0]
    )


@pytest.mark.parametrize(
    ("colour", "status", "outcome", "reason", "paged", "hard"),
    [
        ("green", "pass", "release", "green health code", None, False),
        ("yellow", "fail", "hold", "yellow health code", None, False),
        ("red", "fail", "deny", "red health code: deny and isolate", "critical", True),
        (None, "fail", "hold", "no health-code colour presented", None, False),
    ],
)
def test_health_code_colours_whole(
    colour: str | None, status: str, outcome: str, reason: str, paged: str | None, hard: bool
) -> None:
    result = person_result("health_code", code_colour=colour)
    assert result == Result("health_code", person(1), status, outcome, reason, (REF,))  # type: ignore[arg-type]
    assert pages("health_code", result) == paged
    assert KINDS["code_colour"].hard_limit(result) is hard  # no officer releases past red


@pytest.mark.parametrize(
    ("on_roster", "status", "reason"),
    [
        (True, "pass", "on a roster or appointment"),
        (False, "fail", "on no roster and no appointment"),
        (None, "fail", "not checked against any roster or appointment"),
    ],
)
def test_the_roster_flags_a_person_on_none_or_not_checked(
    on_roster: bool | None, status: str, reason: str
) -> None:
    result = person_result("on_roster", on_roster=on_roster)
    # a flag, not a stop: a failure still lets the person through, and pages the rule's way
    assert result == Result("on_roster", person(1), status, "release", reason, (REF,))  # type: ignore[arg-type]
    assert pages("on_roster", result) == ("warning" if status == "fail" else None)
    assert not KINDS["roster"].hard_limit(result)


# -- the origin's colour over the look-back (DOMAIN rule 4) ---------------------------------

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def origin(risk: list[tuple[timedelta, str]], **change: Any) -> Result:
    """The risk_area rule for an entry at T0 whose origin's colour changed ``risk`` before T0."""
    the_rule = rule("risk_area", **change)
    history = tuple((T0 - ago, colour) for ago, colour in risk)
    return KINDS["origin_risk"].judge(the_rule, judging(entry(), history))  # type: ignore[call-arg, misc]


def outcome_of(result: Result) -> tuple[str, str]:
    return result.status, result.outcome


@pytest.mark.parametrize(
    ("risk", "judged"),
    [
        ([], ("pass", "release")),  # never named: green
        ([(14 * DAY, "red")], ("fail", "deny")),  # red since the window's first instant: still red
        ([(14 * DAY + SECOND, "red"), (14 * DAY, "green")], ("pass", "release")),  # green by then
        ([(14 * DAY + SECOND, "red"), (14 * DAY - SECOND, "green")], ("fail", "deny")),
        (  # the latest colour before the window counts, not an older one
            [(20 * DAY, "red"), (19 * DAY, "yellow"), (18 * DAY, "green")],
            ("pass", "release"),
        ),
        ([(20 * DAY, "green"), (19 * DAY, "red"), (18 * DAY, "yellow")], ("fail", "hold")),
        ([(0 * DAY, "red")], ("fail", "deny")),  # red at the very instant of the entry
        ([(-SECOND, "red")], ("pass", "release")),  # red a second after it: not yet
        ([(3 * DAY, "yellow")], ("fail", "hold")),
        ([(3 * DAY, "yellow"), (2 * DAY, "red")], ("fail", "deny")),  # red over yellow
    ],
)
def test_the_origins_colour_over_the_look_back_at_its_edges(
    risk: list[tuple[timedelta, str]], judged: tuple[str, str]
) -> None:
    assert outcome_of(origin(risk)) == judged


def test_the_origins_window_is_the_rules_and_its_reasons_say_it() -> None:
    red_then_green = [(10 * DAY, "red"), (9 * DAY, "green")]
    assert outcome_of(origin(red_then_green)) == ("fail", "deny")  # within 14 days
    assert outcome_of(origin(red_then_green, window=7 * DAY)) == ("pass", "release")
    red = origin([(3 * DAY, "red")])
    assert red == Result(
        "risk_area", None, "fail", "deny", "origin 上海市金山区 was red within 14 days", (REF,)
    )
    yellow = origin([(3 * DAY, "yellow")], window=7 * DAY)
    assert yellow == Result(
        "risk_area", None, "fail", "hold", "origin 上海市金山区 was yellow within 7 days", (REF,)
    )
    green = origin([])
    assert green == Result("risk_area", None, "pass", "release", "origin not red or yellow", (REF,))
    assert (pages("risk_area", red), pages("risk_area", yellow), pages("risk_area", green)) == (
        "critical",
        None,
        None,
    )


def test_a_yellow_origin_pages_when_its_rule_alerts() -> None:
    alerting = rule("risk_area", alert=True, severity="warning")
    yellow = origin([(3 * DAY, "yellow")])
    assert KINDS["origin_risk"].pages(alerting, yellow) == "warning"


# -- no positive on record (DOMAIN rule 15) -------------------------------------------------


def evidence(ago: timedelta, result: str = "positive", kind: str = "antigen") -> Evidence:
    ref = Ref(f"{kind}-{ago}", f"canonical.{kind}", 0)
    return Evidence(kind, T0 - ago, result, ref, T0 - ago)  # type: ignore[arg-type]


def judged_for(
    rule_id: str,
    found: list[Evidence],
    lagging: frozenset[str] = frozenset(),
    clocks: tuple[datetime, datetime] = (T0, T0),
    changed: dict[str, Any] | None = None,
    **fields: Any,
) -> Result:
    """``rule_id`` (its fields ``changed``) judged for occupant 1 of an entry at T0, whose test
    results are ``found``, with shared evidence ``lagging`` and the park's (watermark, antigen
    clock); ``fields``: occupant 1's."""
    the_rule = rule(rule_id, **(changed or {}))
    the_entry = entry(occupants=[occupant(1, **fields), occupant(2, "escort")])
    j = judging(the_entry)
    j.evidence = lambda who: found if who == person(1) else []
    j.lagging = lagging
    j.watermark, j.antigen_clock = clocks
    return KINDS[the_rule.evidence].judge(the_rule, j, the_entry.occupants[0])  # type: ignore[call-arg, misc]


def no_positive(
    found: list[Evidence], lagging: frozenset[str] = frozenset(), **fields: Any
) -> Result:
    return judged_for("no_positive", found, lagging, **fields)


def test_no_positive_whole_at_the_edges_of_its_window() -> None:
    nothing = no_positive([])
    assert nothing == Result(
        "no_positive", person(1), "pass", "release", "no positive result on record"
    )
    on_edge = evidence(14 * DAY)
    assert no_positive([on_edge]) == Result(
        "no_positive",
        person(1),
        "fail",
        "deny",
        "positive antigen before the entry",
        (on_edge.ref,),
    )
    assert no_positive([evidence(14 * DAY + SECOND)]).status == "pass"  # before the window
    assert no_positive([evidence(DAY, "negative")]).status == "pass"
    after = evidence(-DAY, kind="nat")  # sampled a day after the entry: still denies it
    assert no_positive([after]).reason == "positive nat after the entry"
    at_once = evidence(timedelta(0))
    assert no_positive([at_once]).reason == "positive antigen before the entry"
    both = [evidence(-DAY, kind="nat"), evidence(2 * DAY)]
    judged = no_positive(both)  # the first positive names it; every positive is its evidence
    assert judged.reason == "positive antigen before the entry"
    assert judged.evidence == tuple(e.ref for e in both)
    presented = no_positive([], nat_age=None, nat_result="positive", nat_sample_time=T0 - DAY)
    assert presented == Result(
        "no_positive", person(1), "fail", "deny", "presented a positive NAT", (REF,)
    )
    kind = KINDS["no_positive"]
    assert kind.hard_limit(judged) and not kind.hard_limit(nothing)
    assert kind.pages(rule("no_positive"), judged) is None  # the positive pages itself, once


def test_no_positive_is_pending_while_positives_elsewhere_are_read_too_late() -> None:
    late = no_positive([], lagging=frozenset({"positives"}))
    assert late == Result(
        "no_positive",
        person(1),
        "pending",
        "hold",
        "pending: positives elsewhere are read too late",
    )
    assert not KINDS["no_positive"].hard_limit(late)
    assert no_positive([evidence(DAY)], lagging=frozenset({"positives"})).status == "fail"
    assert no_positive([], lagging=frozenset({"nat"})).status == "pass"


def test_a_positive_is_read_again_only_from_the_window_before_the_entry_on() -> None:
    reads = KINDS["no_positive"].reads
    the_rule = rule("no_positive")
    assert reads(the_rule, evidence(14 * DAY), T0)
    assert not reads(the_rule, evidence(14 * DAY + SECOND), T0)
    assert not reads(the_rule, evidence(DAY, "negative"), T0)
    assert reads(rule("no_positive", window=2 * DAY), evidence(2 * DAY), T0)
    assert not reads(rule("no_positive", window=2 * DAY), evidence(3 * DAY), T0)


# -- the clock kinds: a wait at the gate, a stay inside (DOMAIN rule 14) ---------------------


@dataclass
class Kept:
    """What the clock kinds read of an entry the park keeps."""

    entry: VehicleEntry
    anchor: datetime
    outcome: str | None = "hold"
    released: bool = False
    exited: datetime | None = None
    resolution: bool = False
    keys: tuple[str, ...] = ()
    obligation: Obligation | None = None
    not_passed: tuple[str, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.resolution

    def alerted(self, key: str) -> bool:
        return key in self.keys


def test_a_hold_is_due_at_the_gate_an_hour_after_its_anchor_until_it_ends() -> None:
    wait = rule("gate_wait")
    late_anchor = T0 + timedelta(minutes=5)  # a late entry: its clock runs from its arrival
    held = Kept(entry(), late_anchor)
    assert gate_wait.due(wait, held, False) == late_anchor + timedelta(hours=1)
    assert gate_wait.due(rule("gate_wait", window=timedelta(minutes=30)), held, False) == (
        late_anchor + timedelta(minutes=30)
    )
    for ended in (
        Kept(entry(), T0, outcome="release"),
        Kept(entry(), T0, outcome="deny"),
        Kept(entry(), T0, resolution=True),  # an officer resolved it
        Kept(entry(), T0, keys=(gate_wait.key("e1"),)),  # paged already
    ):
        assert gate_wait.due(wait, ended, False) is None
    assert gate_wait.key("e1") == "gate-wait:e1"


def test_the_gate_waits_message_names_the_gate_the_wait_and_at_most_four_reasons() -> None:
    wait = rule("gate_wait")
    failed = ["nat_48h", "nat_48h", "antigen_on_site"]  # one reason per rule
    assert gate_wait.message(wait, "jinshanwei-1", failed, "en") == (
        "held at gate jinshanwei-1 for over 60 min: no negative NAT sampled within 48 h; "
        "no on-site antigen result yet"
    )
    assert gate_wait.message(wait, "g-2", [], "zh") == (
        "在闸口 g-2 等候超过 60 分钟：证据未到（检测结果、核酸报告）"
    )
    quick = rule("gate_wait", window=timedelta(seconds=150))
    assert " over 2 min: " in gate_wait.message(quick, "g", [], "en")  # whole minutes, rounded down
    many = ["r1", "r2", "r3", "r4", "r5"]  # a park's own rules: named by their ids
    assert gate_wait.message(wait, "g", many, "en").endswith(": r1; r2; r3; r4")


def test_a_stay_is_due_at_the_cap_while_inside_and_too_long_at_an_exit_past_it() -> None:
    cap = rule("dwell")
    inside = Kept(entry(), T0, outcome="release", released=True)
    assert dwell.due(cap, inside, False) == T0 + timedelta(hours=6)
    assert dwell.due(rule("dwell", window=timedelta(hours=2)), inside, False) == (
        T0 + timedelta(hours=2)
    )
    for not_due in (
        Kept(entry(), T0, outcome="release", released=True, exited=T0 + timedelta(hours=1)),
        Kept(entry(), T0, outcome="hold", released=False),  # never entered
        Kept(entry(), T0, outcome="deny", released=True),  # let in, then denied: not inside
        Kept(entry(), T0, outcome="release", released=True, keys=(dwell.key("e1"),)),
        Kept(entry(hazmat=False), T0, outcome="release", released=True),  # the cap: hazmat
    ):
        assert dwell.due(cap, not_due, False) is None
    assert dwell.overdue(cap, "en") == "no exit 6.0 h after entry"
    assert dwell.overdue(cap, "zh") == "入园 6.0 小时后仍未离园"
    six = T0 + timedelta(hours=6)
    assert dwell.at_exit(cap, inside, False, six, "en") is None  # on the cap: in time
    assert dwell.at_exit(cap, inside, False, six + timedelta(minutes=30), "en") == (
        "inside for 6.5 h, over the 6.0 h cap"
    )
    never_in = Kept(entry(), T0, outcome="hold")
    assert dwell.at_exit(cap, never_in, False, six + timedelta(hours=1), "en") is None
    assert dwell.key("e1") == "dwell:e1"


# -- the on-site antigen around the crossing (DOMAIN rule 2) --------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=T0.tzinfo)


def antigen_judged(
    found: list[Evidence],
    *,
    watermark: datetime = T0,
    antigen_clock: datetime = T0,
    **changed: Any,
) -> Result:
    return judged_for("antigen_on_site", found, clocks=(watermark, antigen_clock), changed=changed)


def test_an_antigen_counts_within_two_hours_either_side_of_the_crossing_and_no_further() -> None:
    edge = 2 * timedelta(hours=1)
    for ago in (edge, -edge, timedelta(0)):  # taken 2 h before, 2 h after, at the crossing
        found = evidence(ago, "negative")
        assert antigen_judged([found]) == Result(
            "antigen_on_site",
            person(1),
            "pass",
            "release",
            "negative on-site antigen",
            (found.ref,),
        )
    for ago in (edge + SECOND, -edge - SECOND):
        later = T0 + 3 * edge  # the grace over, and the results read that far
        judged = antigen_judged([evidence(ago, "negative")], watermark=later, antigen_clock=later)
        assert (judged.status, judged.outcome) == ("fail", "hold")
    reads = KINDS["antigen_negative"].reads
    the_rule = rule("antigen_on_site")
    assert reads(the_rule, evidence(edge), T0) and reads(the_rule, evidence(-edge), T0)
    assert not reads(the_rule, evidence(edge + SECOND), T0)
    assert not reads(the_rule, evidence(-edge - SECOND), T0)
    assert not reads(the_rule, evidence(timedelta(0), kind="nat"), T0)
    narrow = rule("antigen_on_site", window=timedelta(hours=1))
    assert not reads(narrow, evidence(timedelta(minutes=61)), T0)
    assert reads(narrow, evidence(timedelta(minutes=60)), T0)


def test_a_positive_antigen_denies_and_holds_past_any_officer() -> None:
    positive, negative = evidence(timedelta(minutes=5)), evidence(timedelta(minutes=6), "negative")
    judged = antigen_judged([negative, positive])
    assert judged == Result(
        "antigen_on_site", person(1), "fail", "deny", "positive on-site antigen", (positive.ref,)
    )
    kind = KINDS["antigen_negative"]
    assert kind.hard_limit(judged)
    assert not kind.hard_limit(antigen_judged([negative]))


def test_a_missing_antigen_is_pending_through_the_grace_then_fails() -> None:
    grace_end = T0 + timedelta(minutes=30)
    pending = Result(
        "antigen_on_site",
        person(1),
        "pending",
        "hold",
        "pending: on-site antigen result not in yet",
    )
    assert antigen_judged([], watermark=grace_end - SECOND) == pending
    failed = Result(
        "antigen_on_site", person(1), "fail", "hold", "no on-site antigen result within 30 min"
    )
    assert antigen_judged([], watermark=grace_end, antigen_clock=grace_end) == failed
    # The park's clock has passed the grace, its antigen results are read only up to 10:20
    # (Shanghai): absence is not evidence yet.
    behind = antigen_judged(
        [], watermark=grace_end, antigen_clock=grace_end - timedelta(minutes=10)
    )
    assert (behind.status, behind.outcome) == ("pending", "hold")
    assert behind.reason == "pending: the park's antigen results are read only up to 02:20"
    unread = antigen_judged([], watermark=grace_end, antigen_clock=EPOCH)
    assert unread.reason == "pending: the park's antigen results are read only up to none yet"
    no_grace = antigen_judged([], grace=None)
    assert no_grace.reason == "no on-site antigen result within 0 min"
    assert KINDS["antigen_negative"].pages(rule("antigen_on_site"), failed) is None


# -- the NAT sampled within 48 h before the entry (DOMAIN rule 1) ---------------------------


def nat_judged(
    found: list[Evidence], lagging: frozenset[str] = frozenset(), **fields: Any
) -> Result:
    return judged_for("nat_48h", found, lagging, **fields)


def lab(ago: timedelta, result: str = "negative") -> Evidence:
    return evidence(ago, result, kind="nat")


def test_a_presented_nat_counts_from_48_h_before_the_entry_to_the_entry() -> None:
    for age in (timedelta(hours=48), timedelta(0)):
        assert nat_judged([], nat_age=age) == Result(
            "nat_48h", person(1), "pass", "release", "negative NAT presented", (REF,)
        )
    for age in (timedelta(hours=48, seconds=1),):  # too old (a later one the model refuses)
        judged = nat_judged([], nat_age=None, nat_sample_time=T0 - age, nat_result="negative")
        assert judged == Result(
            "nat_48h",
            person(1),
            "fail",
            "hold",
            "no negative NAT sampled within 48 h before entry",
            (REF,),
        )
    positive = nat_judged([], nat_age=None, nat_sample_time=T0 - DAY, nat_result="positive")
    assert (positive.status, positive.outcome) == ("fail", "hold")  # no_positive denies it


def test_a_lab_report_counts_within_the_same_window_and_a_positive_one_does_not() -> None:
    for ago in (timedelta(hours=48), timedelta(0)):
        report = lab(ago)
        assert nat_judged([report], nat_age=None) == Result(
            "nat_48h", person(1), "pass", "release", "negative NAT reported by a lab", (report.ref,)
        )
    for outside in (lab(timedelta(hours=48, seconds=1)), lab(-SECOND), lab(DAY, "positive")):
        assert nat_judged([outside], nat_age=None).status == "fail"
    assert nat_judged([evidence(DAY, "negative")], nat_age=None).reason == (
        "no negative NAT sampled within 48 h before entry"
    )  # an antigen a day before the crossing is neither a NAT nor the remedy


def test_the_antigen_remedy_releases_and_the_lag_keeps_an_absence_pending() -> None:
    antigen_ = evidence(timedelta(minutes=5), "negative")
    remedied = nat_judged([antigen_], nat_age=None)
    assert remedied == Result(
        "nat_48h",
        person(1),
        "fail",
        "release",
        "no negative NAT within 48 h; released on a negative on-site antigen: follow the NAT",
        (antigen_.ref,),
    )
    lagging = nat_judged([], frozenset({"nat"}), nat_age=None)
    assert lagging == Result(
        "nat_48h", person(1), "pending", "hold", "pending: lab reports are read too late to tell"
    )
    assert nat_judged([], frozenset({"positives"}), nat_age=None).status == "fail"


def test_a_nat_result_is_read_again_for_entries_it_can_change() -> None:
    reads = KINDS["nat_negative"].reads
    the_rule = rule("nat_48h")
    assert reads(the_rule, lab(timedelta(hours=48)), T0) and reads(the_rule, lab(timedelta(0)), T0)
    assert not reads(the_rule, lab(timedelta(hours=48, seconds=1)), T0)
    assert not reads(the_rule, lab(-SECOND), T0)
    assert reads(rule("nat_48h", window=timedelta(hours=24)), lab(timedelta(hours=24)), T0)
    assert not reads(rule("nat_48h", window=timedelta(hours=24)), lab(timedelta(hours=25)), T0)
    # an antigen, with the remedy: two hours either side of the crossing
    two_hours = timedelta(hours=2)
    assert reads(the_rule, evidence(two_hours), T0) and reads(the_rule, evidence(-two_hours), T0)
    assert not reads(the_rule, evidence(two_hours + SECOND), T0)
    assert not reads(the_rule, evidence(-two_hours - SECOND), T0)
    assert not reads(rule("nat_48h", remedy=None), evidence(timedelta(0)), T0)


# -- a plate stopped at another gate (DOMAIN rule 12) ---------------------------------------


def evasion(stops: list[Stop], at_gate: str = "jinshanwei-1") -> Result:
    the_rule = rule("evasion")
    j = judging(entry(gate=at_gate))
    j.stops = lambda: stops
    return KINDS["other_gate"].judge(the_rule, j)  # type: ignore[call-arg, misc]


def stop(
    ago: timedelta, gate: str = "tinglin-2", park: str = "tangu", outcome: str = "hold"
) -> Stop:
    return Stop(f"s-{gate}-{ago}", park, gate, T0 - ago, outcome, Ref(f"s-{ago}", "x", 0))  # type: ignore[arg-type]


def test_a_stop_at_another_gate_counts_from_its_time_to_24_h_after() -> None:
    assert evasion([]) == Result(
        "evasion", None, "pass", "release", "not stopped at another gate recently", (REF,)
    )
    for ago in (timedelta(0), timedelta(hours=24)):  # the same instant; the window's last
        there = stop(ago)
        assert evasion([there]) == Result(
            "evasion",
            None,
            "fail",
            "hold",
            f"hold at gate tinglin-2 at {there.time:%H:%M}, now at gate jinshanwei-1",
            (there.ref, REF),
        )
    for ago in (timedelta(hours=24, seconds=1), -SECOND):  # too long ago; after this entry
        assert evasion([stop(ago)]).status == "pass"
    assert evasion([stop(DAY / 2, gate="jinshanwei-1")]).status == "pass"  # the same gate
    assert evasion([stop(DAY / 2, outcome="release")]).status == "pass"


def test_evasion_names_the_first_stop_and_the_other_parks_name() -> None:
    later, first = (
        stop(timedelta(hours=2), gate="g-later"),
        stop(timedelta(hours=5), gate="g-first"),
    )
    judged = evasion([later, first])
    assert judged.reason.startswith("hold at gate g-first at ")
    assert judged.evidence == (first.ref, REF)
    elsewhere = stop(timedelta(hours=1), gate="jinshanwei-1", park="other-park", outcome="deny")
    assert evasion([elsewhere]).reason.startswith("deny at gate jinshanwei-1 (other-park) at ")


# -- whom a rule judges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subjects", "hazmat", "away", "applies"),
    [
        ("vehicle", False, False, True),
        ("hazmat_vehicles", True, False, True),
        ("hazmat_vehicles", False, True, False),
        ("out_of_area_vehicles", False, True, True),
        ("out_of_area_vehicles", True, False, False),
    ],
)
def test_a_vehicle_rule_takes_the_vehicles_its_subjects_name(
    subjects: str, hazmat: bool, away: bool, applies: bool
) -> None:
    the_rule = rule("dwell", subjects=subjects)
    assert subject_applies(the_rule, entry(hazmat=hazmat), away) is applies


@pytest.mark.parametrize(
    ("subjects", "role", "hazmat", "away", "applies"),
    [
        ("all_occupants", "passenger", False, False, True),
        ("hazmat_crew", "driver", True, False, True),
        ("hazmat_crew", "escort", True, False, True),
        ("hazmat_crew", "passenger", True, False, False),
        ("hazmat_crew", "driver", False, False, False),
        ("out_of_area_drivers", "driver", False, True, True),
        ("out_of_area_drivers", "escort", False, True, False),
        ("out_of_area_drivers", "driver", False, False, False),
    ],
)
def test_a_person_rule_takes_the_occupants_its_subjects_name(
    subjects: str, role: str, hazmat: bool, away: bool, applies: bool
) -> None:
    the_rule = rule("nat_48h", subjects=subjects)
    person = occupant(1, role)
    the_entry = entry(
        hazmat=hazmat, occupants=[occupant(2), person] if role != "driver" else [person]
    )
    found = next(o for o in the_entry.occupants if o.role == role)
    assert occupant_applies(the_rule, the_entry, found, away) is applies


def test_a_kind_that_says_nothing_of_what_it_reads_is_judged_again_on_every_result() -> None:
    some = Evidence("nat", T0, "negative", REF, T0)
    assert Kind("new", "person").reads(rule("nat_48h"), some, T0) is True
    # The code colour and the roster are on the entry: no test result changes them.
    assert KINDS["code_colour"].reads(rule("health_code"), some, T0) is False
    assert KINDS["roster"].reads(rule("on_roster"), some, T0) is False


# -- what a park's own rule set changes -----------------------------------------------------


def test_a_yellow_code_pages_at_the_rules_severity_when_its_rule_alerts() -> None:
    yellow = person_result("health_code", code_colour="yellow")
    assert pages("health_code", yellow) is None  # the bundled rule does not alert
    alerting = rule("health_code", alert=True, severity="warning")
    assert KINDS["code_colour"].pages(alerting, yellow) == "warning"
    red = person_result("health_code", code_colour="red")
    assert KINDS["code_colour"].pages(alerting, red) == "critical"


def test_a_positive_denies_whatever_outcome_the_parks_rule_names() -> None:
    lenient = {"on_failure": "hold"}
    presented = judged_for(
        "no_positive",
        [],
        changed=lenient,
        nat_age=None,
        nat_result="positive",
        nat_sample_time=T0 - timedelta(hours=10),
    )
    assert (presented.status, presented.outcome) == ("fail", "deny")
    found = judged_for("no_positive", [evidence(timedelta(days=1))], changed=lenient)
    assert (found.status, found.outcome) == ("fail", "deny")


def test_the_antigen_window_is_the_rule_sets() -> None:
    from streams.rules import DEFAULT_RULESET, parse_ruleset

    text = DEFAULT_RULESET.read_text()
    two_hours = "window: 2h                   # taken within"
    assert two_hours in text
    narrow = parse_ruleset(text.replace(two_hours, "window: 1h                   # taken within"))
    the_rule = next(iter(narrow.of_kind("antigen_negative")))
    the_entry = entry()
    j = judging(the_entry)
    j.rules = narrow
    taken = Evidence("antigen", T0 - timedelta(minutes=90), "negative", REF, T0)
    j.evidence = lambda who: [taken] if who == person(1) else []
    judged = KINDS["antigen_negative"].judge(the_rule, j, the_entry.occupants[0])  # type: ignore[call-arg, misc]
    assert judged.status != "pass"  # 90 min before: outside 1 h, inside the bundled 2 h
    j.rules = RULES
    assert (
        KINDS["antigen_negative"].judge(rule("antigen_on_site"), j, the_entry.occupants[0]).status
        == "pass"
    )  # type: ignore[call-arg, misc]


def test_an_antigen_rule_without_a_grace_is_due_at_the_anchor() -> None:
    from streams.rules.kinds import antigen

    assert antigen.deadline(rule("antigen_on_site", grace=None), T0) == T0
    assert antigen.deadline(rule("antigen_on_site"), T0) == T0 + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("visit_at", "serves"),
    [
        (timedelta(0), True),  # at the entry's own second
        (timedelta(days=7), True),  # at the deadline
        (-SECOND, False),
        (timedelta(days=7) + SECOND, False),
    ],
)
def test_a_visit_counts_from_the_entry_to_the_deadline(visit_at: timedelta, serves: bool) -> None:
    from streams.rules.kinds import visits

    ob = visits.Obligation(person(1), "ent-001", T0 + timedelta(days=7), 2)
    assert visits.serves(ob, T0, T0 + visit_at, "v1") is serves


def test_a_visit_serves_an_open_obligation_once() -> None:
    from streams.rules.kinds import visits

    ob = visits.Obligation(person(1), "ent-001", T0 + timedelta(days=7), 2)
    visits.serve(ob, "v1")
    assert visits.serves(ob, T0, T0 + timedelta(days=1), "v1") is False  # the same visit
    visits.serve(ob, "v2")
    assert ob.state == "met"
    assert visits.serves(ob, T0, T0 + timedelta(days=1), "v3") is False  # met already


def test_an_obligation_without_a_consignee_names_the_enterprise_unknown() -> None:
    from streams.rules.kinds import visits

    general = entry(hazmat=False, origin_region="浙江省嘉兴市南湖区")
    assert general.consignee is None
    ob = visits.obligation(rule("health_visits"), general, T0, out_of_area=True)
    assert ob is not None and (ob.enterprise, ob.person, ob.required) == ("unknown", person(1), 2)
    assert visits.obligation(rule("health_visits"), general, T0, out_of_area=False) is None


# -- what a deadline does when the park's clock passes it ---------------------------------------


def test_each_clock_kind_is_a_deadline_and_no_judged_kind_is() -> None:
    assert [kind.name for kind in DEADLINES] == ["gate_wait", "exit_in_time", "visits"]
    for kind in KINDS.values():
        assert (kind.judge is None) == (kind in DEADLINES), kind.name
    nat = KINDS["nat_negative"]
    assert nat.due(rule("nat_48h"), Kept(entry(), T0), False) is None
    with pytest.raises(AssertionError):
        nat.on_due(rule("nat_48h"), Kept(entry(), T0), "en")


def test_a_wait_due_at_the_gate_pages_its_gate_s_officer_with_what_did_not_pass() -> None:
    wait = rule("gate_wait")
    held = Kept(entry(), T0, not_passed=("nat_48h",))
    assert gate_wait.due(None, held, False) is None  # a rule set without the rule: no deadline
    alarm = gate_wait.on_due(wait, held, "en")
    assert alarm == Alarm(
        "gate_wait",
        wait.severity,
        "gate-wait:e1",
        gate_wait.message(wait, "jinshanwei-1", ["nat_48h"], "en"),
        T0 + timedelta(hours=1),
    )
    assert "nat_48h" not in alarm.message and alarm.subject is None  # the rule in words


def test_a_stay_due_inside_pages_at_the_cap() -> None:
    cap = rule("dwell")
    inside = Kept(entry(), T0, outcome="release", released=True)
    assert dwell.due(None, inside, False) is None
    alarm = dwell.on_due(cap, inside, "en")
    assert alarm == Alarm(
        "dwell", cap.severity, "dwell:e1", "no exit 6.0 h after entry", T0 + timedelta(hours=6)
    )


def test_owed_visits_are_due_while_open_and_page_the_enterprise_when_they_pass() -> None:
    ob = Obligation(person(1), "ent-007", T0 + timedelta(days=7), 2, ["v1"])
    owed = Kept(entry(), T0, outcome="release", released=True, obligation=ob)
    assert visits.due(rule("health_visits"), Kept(entry(), T0), False) is None  # none owed
    assert visits.due(rule("health_visits"), owed, False) == T0 + timedelta(days=7)
    # Still owed when a later rule set has no visits rule: paged as the bundled rule would.
    assert visits.due(None, owed, False) == T0 + timedelta(days=7)
    alarm = visits.on_due(None, owed, "en")
    assert ob.state == "overdue" and visits.due(None, owed, False) is None
    assert alarm == Alarm(
        "health_visits",
        "warning",
        f"visits-overdue:e1:{person(1)}",
        visits.message(ob, "en"),
        T0 + timedelta(days=7),
        subject=person(1),
        enterprise="ent-007",
    )
    met = Obligation(person(1), "ent-007", T0, 1, ["v1"], "met")
    assert visits.due(rule("health_visits"), Kept(entry(), T0, obligation=met), False) is None
    strict = rule("health_visits", severity="critical", id="visits_strict")
    ob.state = "open"
    paged = visits.on_due(strict, owed, "en")
    assert (paged.rule, paged.severity) == ("visits_strict", "critical")
