"""The gate board's content (issue 20's first findings): its clock follows the data when history
is replayed, criticals come before warnings, each held entry is in its gate's queue with how long
it has waited, why and what would release it, and figures that ClickHouse stopped giving are said
to be stale since then."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas import Alert, Decision, RuleResult
from streams.board import INSIDE_SHOWN, RECENT, Board, Held, Inside
from streams.report import Report
from streams.rules.ruleset import DEFAULT_RULESET, load_ruleset
from streams.words import say

RULES = load_ruleset(DEFAULT_RULESET)

NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
T2022 = datetime(2022, 5, 4, 2, 15, tzinfo=UTC)  # 10:15 in Shanghai


def decision(entry_id: str, at: datetime, outcome: str = "release", revision: int = 0) -> Decision:
    return Decision(
        event_id=f"{entry_id}:{revision}",
        event_time=at,
        entry_id=entry_id,
        revision=revision,
        park="jinshan",
        gate="g2",
        plate=f"沪A{entry_id[-4:]}",
        outcome=outcome,
        rules=(RuleResult(rule="nat_48h", status="fail", outcome="hold", reason="no NAT"),)
        if outcome == "hold"
        else (),
        ruleset_version="v1",
    )


def alert(key: str, severity: str, at: datetime, **more: Any) -> Alert:
    return Alert(
        event_id=f"alert-{key}",
        event_time=at,
        severity=severity,
        rule="no_positive" if severity == "critical" else "dwell",
        subject="x",
        dedup_key=key,
        park="jinshan",
        gate="g2",
        entry_id="entry-0001",
        message=f"{severity} {key}",
        detected_at=at,
        **more,
    )


def report(days: dict[str, int], **more: Any) -> Report:
    fields: dict[str, Any] = dict.fromkeys(Report.__dataclass_fields__, 0)
    fields.update(entries_by_day=days, peak_date="2022-05-04", visit_compliance=1.0)
    fields.update(holds_by_rule={}, denials_by_rule={}, visits_by_enterprise={}, first_day=None)
    return Report(**{**fields, **more})


def figures(board: Board, whole: Report, day: Report | None = None, **read: Any) -> None:
    """The board reads ``whole`` (every day) and ``day`` (its figures' day) at NOW."""
    today = board.today(NOW)
    day = day or report({}, first_day=str(board.figures_day(whole, today)))
    board.on_report(whole, day, read.get("held", []), read.get("inside", []), today, NOW)


def test_replayed_history_shows_the_datas_time_and_day_not_the_wall_clocks() -> None:
    # Tried as a new user: the title said today's wall-clock date over 2022's data.
    board = Board()
    board.on_decision(decision("entry-0001", T2022))
    shown = board.to_json(NOW)
    assert (shown["as_of"], shown["live"]) == ("2022-05-04 10:15", False)
    assert board.today(NOW) == date(2022, 5, 4)
    figures(board, report({"2022-05-03": 3, "2022-05-04": 5}))
    assert board.figures["day"] == "2022-05-04" and board.figures["is_today"]
    assert board.figures["entries"] == 5
    live = Board()
    live.on_decision(decision("entry-0002", NOW - timedelta(minutes=3)))
    assert live.to_json(NOW)["live"] and live.today(NOW) == date(2026, 12, 2)


def test_criticals_come_before_warnings_newest_first_and_a_closed_alert_goes() -> None:
    board = Board()
    board.on_decision(decision("entry-0001", T2022))
    for minute in range(2 * RECENT):  # warnings enough to push anything off a plain list
        board.on_alert(alert(f"w{minute}", "warning", T2022 + timedelta(minutes=minute)))
    board.on_alert(alert("c-old", "critical", T2022))
    board.on_alert(alert("c-new", "critical", T2022 + timedelta(minutes=5)))
    shown = board.to_json(NOW)["alerts"]
    assert [a["dedup_key"] for a in shown[:3]] == ["c-new", "c-old", f"w{2 * RECENT - 1}"]
    assert shown[0]["plate"] == "沪A0001" and shown[0]["gate"] == "g2"
    board.on_alert(alert("c-new", "critical", T2022, resolved_at=T2022 + timedelta(hours=1)))
    assert board.to_json(NOW)["alerts"][0]["dedup_key"] == "c-old"


def test_each_held_entry_waits_in_its_gates_queue_with_why_and_what_releases_it() -> None:
    board = Board()
    board.on_decision(decision("entry-0009", T2022 + timedelta(minutes=90)))  # the clock
    held = [
        Held("entry-0002", "g2", "沪A0002", T2022 + timedelta(minutes=30), ("antigen_on_site",)),
        Held("entry-0001", "g2", "沪A0001", T2022, ("nat_48h", "waybill")),
        Held("entry-0003", "g7", "沪A0003", T2022 + timedelta(minutes=80), ()),
    ]
    figures(board, report({}), held=held)
    queues = board.to_json(NOW)["held"]
    assert list(queues) == ["g2", "g7"]
    first, second = queues["g2"]
    assert (first["plate"], first["waiting_minutes"]) == ("沪A0001", 90)  # the longest first
    assert second["waiting_minutes"] == 60
    assert first["why"] == ["no negative NAT sampled within 48 h", "no electronic waybill"]
    assert first["to_release"] == [
        "an on-site antigen test, negative",
        "the waybill from the consignor",
    ]
    (waiting,) = queues["g7"]  # held with no rule failed: one waits for its evidence
    assert (waiting["why"], waiting["to_release"]) == (
        [say("en", "pending.why")],
        [say("en", "pending.release")],
    )


def test_figures_clickhouse_stopped_giving_are_said_to_be_stale_since_then() -> None:
    # Tried as a new user: with ClickHouse stopped the board showed old figures under a fresh
    # "updated" time.
    board = Board()
    figures(board, report({"2026-12-02": 4}))
    assert board.to_json(NOW)["stale_since"] is None
    board.on_figures_failed(NOW + timedelta(seconds=2))
    board.on_figures_failed(NOW + timedelta(seconds=30))
    shown = board.to_json(NOW + timedelta(seconds=31))
    assert shown["stale_since"] == "2026-12-02 14:00" and shown["figures_at"] == "2026-12-02 14:00"
    board.on_report(report({}), report({}), [], [], date(2026, 12, 2), NOW + timedelta(minutes=1))
    assert board.to_json(NOW)["stale_since"] is None


def test_vehicles_inside_are_listed_nearest_their_cap_first() -> None:
    # The bundled dwell rule: hazmat vehicles leave within 6 h.
    board = Board(rules=lambda: RULES)
    inside = [
        Inside("entry-0001", "g2", "沪A0001", NOW - timedelta(hours=9), hazmat=False),
        Inside("entry-0002", "g2", "沪A0002", NOW - timedelta(hours=2), hazmat=True),
        Inside("entry-0003", "g7", "沪A0003", NOW - timedelta(hours=5), hazmat=True),
        Inside("entry-0004", "g7", "沪A0004", NOW - timedelta(hours=7), hazmat=True),
        Inside("entry-0005", "g7", "沪A0005", NOW - timedelta(hours=1), hazmat=False),
    ]
    figures(board, report({}), inside=inside)
    shown = board.to_json(NOW)
    assert [v["plate"][-4:] for v in shown["inside"]] == ["0004", "0003", "0002", "0001", "0005"]
    over, near = shown["inside"][:2]
    assert (over["inside_minutes"], over["cap_minutes"], over["over_cap"]) == (420, 360, True)
    assert (near["inside_minutes"], near["over_cap"]) == (300, False)
    assert shown["inside"][3]["cap_minutes"] is None  # no cap for a vehicle the rule does not take
    assert shown["inside_total"] == 5


def test_a_busy_gate_leaves_the_others_their_vehicles_inside() -> None:
    board = Board(rules=lambda: RULES)
    busy = [
        Inside(f"entry-1{n:03d}", "g2", f"沪B{n:04d}", NOW - timedelta(hours=5), hazmat=True)
        for n in range(INSIDE_SHOWN + 5)
    ]
    quiet = Inside("entry-2000", "g7", "沪C0001", NOW - timedelta(hours=1), hazmat=True)
    figures(board, report({}), inside=[*busy, quiet])
    shown = board.to_json(NOW)["inside"]
    assert [v["gate"] for v in shown].count("g2") == INSIDE_SHOWN
    assert shown[-1]["plate"] == "沪C0001"  # the farthest from its cap, listed still


def test_todays_positives_red_codes_and_overdue_visits_by_enterprise() -> None:
    board = Board(rules=lambda: RULES)
    visits = {
        "ent-001": {"obligations": 9, "overdue": 1},
        "ent-007": {"obligations": 4, "overdue": 3},
        "ent-009": {"obligations": 2, "overdue": 0},
    }
    whole = report({"2026-12-02": 4}, positives=5, visits_by_enterprise=visits, overdue_visits=4)
    today = report(
        {"2026-12-02": 4},
        first_day="2026-12-02",
        positives=2,
        denials_by_rule={"health_code": 3, "no_positive": 2},
    )
    figures(board, whole, today)
    f = board.figures
    assert (f["positives"], f["positives_today"], f["red_codes_today"]) == (5, 2, 3)
    assert f["overdue_by_enterprise"] == [
        {"enterprise": "ent-007", "overdue": 3},
        {"enterprise": "ent-001", "overdue": 1},
    ]


def test_the_board_speaks_the_parks_language() -> None:
    board = Board("zh", rules=lambda: RULES)
    board.on_decision(decision("entry-0009", T2022 + timedelta(minutes=90), outcome="hold"))
    figures(board, report({}), held=[Held("entry-0001", "g2", "沪A0001", T2022, ("nat_48h",))])
    shown = board.to_json(NOW)
    (held,) = shown["held"]["g2"]
    assert held["why"] == ["无48小时内采样的核酸阴性证明"]
    assert held["to_release"] == ["现场抗原检测阴性"]
    assert shown["decisions"][0]["reasons"] == ["无48小时内采样的核酸阴性证明"]
    assert shown["language"] == "zh"
