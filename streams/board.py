"""The live gate board's content, pure: recent decisions with their reasons, recent alerts, and
the day's figures from the rollups. streams/agents/web.py serves it; streams/web/board.html
draws it."""

from __future__ import annotations

from collections import deque
from datetime import date
from typing import Any

from schemas import Alert, Decision
from streams.parktime import PARK_TZ
from streams.report import Report

RECENT = 30


class Board:
    def __init__(self) -> None:
        self._decisions: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.figures: dict[str, Any] = {}

    def on_decision(self, decision: Decision) -> None:
        """The latest revision of an entry replaces the earlier one on the board."""
        for shown in list(self._decisions):
            if shown["entry_id"] == decision.entry_id:
                if shown["revision"] > decision.revision:
                    return
                self._decisions.remove(shown)
        reasons = [
            f"{r.rule}: {r.reason}" if r.reason else r.rule
            for r in decision.rules
            if r.status != "pass"
        ]
        self._decisions.appendleft(
            {
                "entry_id": decision.entry_id,
                "revision": decision.revision,
                "time": decision.event_time.astimezone(PARK_TZ).strftime("%Y-%m-%d %H:%M"),
                "gate": decision.gate,
                "plate": decision.plate,
                "outcome": decision.outcome,
                "reasons": reasons,
            }
        )

    def on_alert(self, alert: Alert) -> None:
        if any(shown["dedup_key"] == alert.dedup_key for shown in self._alerts):
            return
        self._alerts.appendleft(
            {
                "dedup_key": alert.dedup_key,
                "time": alert.event_time.astimezone(PARK_TZ).strftime("%Y-%m-%d %H:%M"),
                "severity": alert.severity,
                "rule": alert.rule,
                "message": alert.message,
            }
        )

    def on_report(self, report: Report, today: date) -> None:
        """The day's figures. "Today" is the park-local date; when it has no entries yet (a
        replay of history, or before the first truck), the latest day with entries is shown."""
        day = str(today)
        if day not in report.entries_by_day and report.entries_by_day:
            day = max(report.entries_by_day)
        self.figures = {
            "day": day,
            "is_today": day == str(today),
            "entries": report.entries_by_day.get(day, 0),
            "peak_entries": report.peak_entries,
            "peak_date": report.peak_date,
            "total_entries": report.total_entries,
            "open_holds": report.held,
            "denied": report.denied,
            "positives": report.positives,
            "overdue_visits": report.overdue_visits,
            "visit_compliance": report.visit_compliance,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "figures": self.figures,
            "decisions": list(self._decisions),
            "alerts": list(self._alerts),
        }
