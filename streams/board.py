"""The live gate board's content, pure: who is held at each gate and why, recent decisions with
their reasons, open alerts (criticals first), and the day's figures from the rollups.
``streams/agents/board.py`` serves it; ``streams/web/board.html`` draws it.

The board's clock is the data's when it replays history ("as of 2022-05-04 10:15") and the wall
clock when the data is live; every time on it is the park's (Shanghai). Figures read from
ClickHouse carry when they were read, and since when ClickHouse has not answered, if it has not.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas import Alert, Decision
from streams.parktime import PARK_TZ
from streams.report import Report

RECENT = 30
HELD_SHOWN = 60  # per gate: a wall screen holds 40 without scrolling
ALERTS_KEPT = 300  # open alerts kept to sort from; the board shows the first RECENT
LIVE = timedelta(hours=1)  # data this close to the wall clock is live
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
REMEMBERED = 20_000  # entries whose latest revision is remembered (a later one replaces it)


# Why a rule holds a truck, and what would release it, in the gate officer's words.
RULE_WORDS: dict[str, tuple[str, str]] = {
    "nat_48h": ("no negative NAT sampled within 48 h", "an on-site antigen test, negative"),
    "antigen_on_site": ("no on-site antigen result yet", "the on-site antigen test of the crew"),
    "health_code": ("a health code is not green", "turn away; call the park's health office"),
    "risk_area": ("comes from a risk area", "turn away, or the park's exemption"),
    "pass": ("no pass for an out-of-area vehicle", "the vehicle's pass"),
    "appointment": ("no appointment", "an appointment by the receiving enterprise"),
    "gate_class": ("hazmat vehicle at a gate not for hazmat", "send it to a hazmat gate"),
    "escort_on_board": ("no escort on board", "an escort on board"),
    "waybill": ("no electronic waybill", "the waybill from the consignor"),
    "on_roster": ("someone on board is not on the roster", "call the consignee to confirm"),
    "no_positive": ("a positive test", "deny entry; the health office is paged"),
    "health_visits": ("health visits owed", "the receiving enterprise's visits"),
    "evasion": ("seen at another gate", "check the vehicle; call the park"),
    "dwell": ("on site past the cap", "escort the vehicle out"),
    "gate_wait": ("waiting too long at the gate", "decide: test on site, or turn away"),
}


# A hold with no rule failed: a rule waits for its evidence (``pending``), which the
# decisions table does not list.
PENDING = ("evidence not in yet (a test result, a lab report)", "the result, when it arrives")


@dataclass(frozen=True)
class Held:
    """An entry whose current decision is a hold."""

    entry_id: str
    gate: str
    plate: str
    since: datetime
    failed_rules: tuple[str, ...]
    park: str = ""


HELD_DAYS = 7  # holds this old are not a queue any more: the analysts' to find


def held_sql(today: date, table: str = "decisions") -> str:
    """The entries held now (their latest revision is a hold), of the ``HELD_DAYS`` to
    ``today``: entry id, gate, plate, outcome, entry time, failed rules, park."""
    since = today - timedelta(days=HELD_DAYS)
    return (
        "SELECT entry_id, argMax(gate, revision), argMax(plate, revision), "
        "argMax(outcome, revision) AS current, min(event_time), "
        "argMax(failed_rules, revision), any(park) "
        f"FROM {table} WHERE event_date >= toDate('{since}') "
        "GROUP BY entry_id HAVING current = 'hold' ORDER BY min(event_time) LIMIT 2000"
    )


def read_held(
    execute: Callable[[str], list[tuple[Any, ...]]], today: date, table: str = "decisions"
) -> list[Held]:
    return [
        Held(str(entry), str(gate), str(plate), _aware(at), tuple(failed), str(park))
        for entry, gate, plate, _, at, failed, park in execute(held_sql(today, table))
    ]


def _aware(at: datetime) -> datetime:
    """clickhouse-driver gives the column's zone; chdb and older paths may give naive UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def park_time(at: datetime) -> str:
    return at.astimezone(PARK_TZ).strftime("%Y-%m-%d %H:%M")


class Board:
    def __init__(self) -> None:
        self._decisions: deque[dict[str, Any]] = deque(maxlen=RECENT)
        # entry id -> (its latest revision, plate), the latest entries read
        self._latest: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._held: list[Held] = []  # the entries whose current decision is a hold (ClickHouse)
        self._alerts: dict[str, dict[str, Any]] = {}  # dedup key -> open alert
        self._acknowledged: dict[str, str] = {}  # dedup key -> the officer who acknowledged it
        self._data_time: datetime | None = None  # the latest event time read
        self.figures: dict[str, Any] = {}
        self.figures_at: datetime | None = None  # when the figures were read
        self.stale_since: datetime | None = None  # since when ClickHouse has not answered

    # -- what the board reads ---------------------------------------------------------------

    def on_decision(self, decision: Decision) -> None:
        """The latest revision of an entry replaces the earlier one on the board."""
        entry = decision.entry_id
        if self._latest.get(entry, (-1, ""))[0] > decision.revision:
            return
        self._latest[entry] = (decision.revision, decision.plate)
        self._latest.move_to_end(entry)
        while len(self._latest) > REMEMBERED:
            self._latest.popitem(last=False)
        self._seen(decision.event_time)
        for shown in list(self._decisions):
            if shown["entry_id"] == entry:
                self._decisions.remove(shown)
        reasons = [
            f"{r.rule}: {r.reason}" if r.reason else r.rule for r in decision.rules if not r.passed
        ]
        row = {
            "entry_id": entry,
            "time": park_time(decision.event_time),
            "gate": decision.gate,
            "plate": decision.plate,
            "outcome": decision.outcome,
            "reasons": reasons,
        }
        self._decisions.appendleft(row)

    def on_alert(self, alert: Alert) -> None:
        """An open alert until its closing copy (``resolved_at``) arrives."""
        self._seen(alert.detected_at)
        if alert.resolved_at is not None:
            self._alerts.pop(alert.dedup_key, None)
            self._acknowledged.pop(alert.dedup_key, None)
            return
        if alert.dedup_key in self._alerts:
            return
        self._alerts[alert.dedup_key] = {
            "dedup_key": alert.dedup_key,
            "at": alert.detected_at,
            "time": park_time(alert.detected_at),
            "severity": alert.severity,
            "rule": alert.rule,
            "gate": alert.gate or "",
            "entry_id": alert.entry_id or "",
            "message": alert.message,
        }
        if len(self._alerts) > ALERTS_KEPT:  # the least urgent, oldest goes
            gone = max(self._alerts.values(), key=_alert_order)["dedup_key"]
            del self._alerts[gone]
            self._acknowledged.pop(gone, None)

    def held(self, entry_id: str) -> Held | None:
        """The entry if it is in a gate's queue now."""
        return next((h for h in self._held if h.entry_id == entry_id), None)

    def is_open(self, dedup_key: str) -> bool:
        return dedup_key in self._alerts

    def acknowledge(self, dedup_key: str, officer: str) -> None:
        """An officer took the alert in hand: its banner goes (the alert stays listed)."""
        self._acknowledged[dedup_key] = officer

    def on_silences(self, officers: dict[str, str]) -> None:
        """The acknowledgements Alertmanager holds (its silences by dedup key, and who made
        them): the same on every worker's board and after a restart."""
        self._acknowledged.update(
            {key: officer for key, officer in officers.items() if key in self._alerts}
        )

    def on_report(self, report: Report, held: list[Held], today: date, at: datetime) -> None:
        """The day's figures and the entries held now, read at ``at``. "Today" is the board's
        day (the park-local date of its clock); when it has no entries yet, the latest day with
        entries is shown."""
        self._held = held
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
        self.figures_at, self.stale_since = at, None

    def on_figures_failed(self, at: datetime) -> None:
        """ClickHouse did not answer: the figures shown are as old as they are, said so."""
        if self.stale_since is None:
            self.stale_since = at

    # -- what the board shows ---------------------------------------------------------------

    def clock(self, now: datetime) -> tuple[datetime, bool]:
        """The board's time, and whether it is live: the wall clock ``now`` when the data is
        within an hour of it, else the time of the latest data read (history replayed)."""
        if self._data_time is None or now - self._data_time <= LIVE:
            return now, True
        return self._data_time, False

    def today(self, now: datetime) -> date:
        return self.clock(now)[0].astimezone(PARK_TZ).date()

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        at, live = self.clock(now)
        queues: dict[str, list[dict[str, Any]]] = {}
        for held in sorted(self._held, key=lambda h: h.since):
            queues.setdefault(held.gate, []).append(
                {
                    "entry_id": held.entry_id,
                    "park": held.park,
                    "plate": held.plate,
                    "time": park_time(held.since),
                    "waiting_minutes": int(
                        max(timedelta(0), at - held.since).total_seconds() // 60
                    ),
                    "why": [RULE_WORDS.get(r, (r, ""))[0] for r in held.failed_rules]
                    or [PENDING[0]],
                    "to_release": [RULE_WORDS.get(r, ("", ""))[1] for r in held.failed_rules]
                    or [PENDING[1]],
                }
            )
        ordered = sorted(self._alerts.values(), key=_alert_order)
        alerts = ordered[:RECENT]
        return {
            "as_of": park_time(at),
            "live": live,
            "time_zone": "Asia/Shanghai",
            "figures": self.figures,
            "figures_at": park_time(self.figures_at) if self.figures_at else None,
            "stale_since": park_time(self.stale_since) if self.stale_since else None,
            "held": {gate: rows[:HELD_SHOWN] for gate, rows in sorted(queues.items())},
            "held_total": len(self._held),  # (the figure "held now" counts from the rollups)
            "decisions": list(self._decisions),
            # Every open critical alert until an officer acknowledges it, newest first.
            "banners": [
                self._shown(a)
                for a in ordered
                if a["severity"] == "critical" and a["dedup_key"] not in self._acknowledged
            ],
            "alerts": [self._shown(a) for a in alerts],
        }

    def _shown(self, alert: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: v for k, v in alert.items() if k != "at"},
            "plate": self._latest.get(alert["entry_id"], (0, ""))[1],
            "acknowledged_by": self._acknowledged.get(alert["dedup_key"], ""),
        }

    # -- inside -------------------------------------------------------------------------------

    def _seen(self, at: datetime) -> None:
        if self._data_time is None or at > self._data_time:
            self._data_time = at


def _alert_order(alert: dict[str, Any]) -> tuple[int, float]:
    """Criticals first, then warnings; newest first within each."""
    return (SEVERITY_RANK.get(alert["severity"], 9), -alert["at"].timestamp())
