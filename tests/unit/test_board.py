"""The gate board's content (issue 20's first findings): its clock follows the data when history
is replayed, criticals come before warnings, each held entry is in its gate's queue with how long
it has waited, why and what would release it, and figures that ClickHouse stopped giving are said
to be stale since then."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas import Alert, Decision, RuleResult
from streams.board import PENDING, RECENT, RULE_WORDS, Board, Held
from streams.report import Report

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


def report(days: dict[str, int]) -> Report:
    fields: dict[str, Any] = dict.fromkeys(Report.__dataclass_fields__, 0)
    fields.update(entries_by_day=days, peak_date="2022-05-04", visit_compliance=1.0)
    return Report(**fields)


def test_replayed_history_shows_the_datas_time_and_day_not_the_wall_clocks() -> None:
    # Tried as a new user: the title said today's wall-clock date over 2022's data.
    board = Board()
    board.on_decision(decision("entry-0001", T2022))
    shown = board.to_json(NOW)
    assert (shown["as_of"], shown["live"]) == ("2022-05-04 10:15", False)
    assert board.today(NOW) == date(2022, 5, 4)
    board.on_report(report({"2022-05-03": 3, "2022-05-04": 5}), [], board.today(NOW), NOW)
    assert board.figures["day"] == "2022-05-04" and board.figures["is_today"]
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
    board.on_report(report({}), held, board.today(NOW), NOW)
    queues = board.to_json(NOW)["held"]
    assert list(queues) == ["g2", "g7"]
    first, second = queues["g2"]
    assert (first["plate"], first["waiting_minutes"]) == ("沪A0001", 90)  # the longest first
    assert second["waiting_minutes"] == 60
    assert first["why"] == [RULE_WORDS["nat_48h"][0], RULE_WORDS["waybill"][0]]
    assert first["to_release"] == [RULE_WORDS["nat_48h"][1], RULE_WORDS["waybill"][1]]
    (waiting,) = queues["g7"]  # held with no rule failed: one waits for its evidence
    assert (waiting["why"], waiting["to_release"]) == ([PENDING[0]], [PENDING[1]])


def test_figures_clickhouse_stopped_giving_are_said_to_be_stale_since_then() -> None:
    # Tried as a new user: with ClickHouse stopped the board showed old figures under a fresh
    # "updated" time.
    board = Board()
    board.on_report(report({"2026-12-02": 4}), [], date(2026, 12, 2), NOW)
    assert board.to_json(NOW)["stale_since"] is None
    board.on_figures_failed(NOW + timedelta(seconds=2))
    board.on_figures_failed(NOW + timedelta(seconds=30))
    shown = board.to_json(NOW + timedelta(seconds=31))
    assert shown["stale_since"] == "2026-12-02 14:00" and shown["figures_at"] == "2026-12-02 14:00"
    board.on_report(report({"2026-12-02": 5}), [], date(2026, 12, 2), NOW + timedelta(minutes=1))
    assert board.to_json(NOW)["stale_since"] is None


def test_every_rule_has_its_words() -> None:
    from streams.rules.ruleset import DEFAULT_RULESET, load_ruleset

    assert {r.id for r in load_ruleset(DEFAULT_RULESET).rules} <= set(RULE_WORDS)


def test_a_critical_alert_has_a_banner_until_an_officer_acknowledges_it_on_any_board() -> None:
    board = Board()
    board.on_alert(alert("c-1", "critical", T2022))
    board.on_alert(alert("c-2", "critical", T2022 + timedelta(minutes=1)))
    board.on_alert(alert("w-1", "warning", T2022))
    assert [b["dedup_key"] for b in board.to_json(NOW)["banners"]] == ["c-2", "c-1"]
    board.acknowledge("c-2", "officer.wang")
    shown = board.to_json(NOW)
    assert [b["dedup_key"] for b in shown["banners"]] == ["c-1"]
    assert shown["alerts"][0]["acknowledged_by"] == "officer.wang"  # still listed, and by whom
    # Another worker's board learns it from Alertmanager's silences (only for alerts it has).
    other = Board()
    other.on_alert(alert("c-1", "critical", T2022))
    other.on_alert(alert("c-2", "critical", T2022 + timedelta(minutes=1)))
    other.on_silences({"c-2": "officer.wang", "gone": "someone"})
    assert [b["dedup_key"] for b in other.to_json(NOW)["banners"]] == ["c-1"]
    assert not other.is_open("gone")
    # A closed alert takes its acknowledgement with it.
    board.on_alert(alert("c-2", "critical", T2022, resolved_at=T2022 + timedelta(hours=1)))
    board.on_alert(alert("c-2", "critical", T2022 + timedelta(hours=2)))  # the same key again
    assert [b["dedup_key"] for b in board.to_json(NOW)["banners"]] == ["c-2", "c-1"]
