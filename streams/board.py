"""The live gate board's content, pure: who is held at each gate and why, who is inside the park
and for how long, recent decisions with their reasons, open alerts (criticals first), and the
day's figures from the rollups. ``streams/agents/board.py`` serves it; ``streams/web/board.html``
draws it. Its words are the message catalogue's (streams/words.py), in the park's language.

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
from streams.parktime import local_day, park_time
from streams.report import Report
from streams.rules.ruleset import Rule, RuleSet
from streams.words import Language, rule_words, say

RECENT = 30
HELD_SHOWN = 60  # per gate: a wall screen holds 40 without scrolling
INSIDE_SHOWN = 12  # per gate: vehicles inside, nearest their cap first (the count: all of them)
ENTERPRISES_SHOWN = 8  # enterprises with overdue visits, the most overdue first
ALERTS_KEPT = 300  # open alerts kept to sort from; the board shows the first RECENT
LIVE = timedelta(hours=1)  # data this close to the wall clock is live
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
REMEMBERED = 20_000  # entries whose latest revision is remembered (a later one replaces it)


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
INSIDE_DAYS = 30  # vehicles let in this long ago with no exit are still listed (far past a cap)


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


@dataclass(frozen=True)
class Inside:
    """An entry let in (its latest decision a release) with no exit yet."""

    entry_id: str
    gate: str
    plate: str
    entered: datetime
    hazmat: bool
    park: str = ""


def inside_sql(at: datetime) -> str:
    """The entries inside the park at ``at`` (the board's clock), let in the ``INSIDE_DAYS``
    before: entry id, gate, plate, entry time, hazmat, park, outcome. Entries and exits after
    ``at`` do not count: a replay's raw exits reach ClickHouse long before its clock. A missing
    exit keeps a vehicle on the board, past its cap, for the officers to find. GLOBAL IN: on a
    cluster the tables are Distributed, and with more than one shard ClickHouse refuses a plain
    IN of one inside a query of another (``distributed_product_mode``); on one server, and on
    the local cluster's one shard (tried), it reads as a plain IN."""
    since = local_day(at - timedelta(days=INSIDE_DAYS))
    until = int(at.timestamp())
    return (
        "SELECT entry_id, argMax(gate, revision), argMax(plate, revision), min(event_time), "
        "max(entry_id GLOBAL IN (SELECT event_id FROM entries "
        f"WHERE event_date >= toDate('{since}') AND hazmat = 1)), any(park), "
        "argMax(outcome, revision) AS current "
        f"FROM decisions WHERE event_date >= toDate('{since}') "
        f"AND event_time <= toDateTime({until}) "
        "AND entry_id GLOBAL NOT IN (SELECT entry_id FROM exits "
        f"WHERE event_date >= toDate('{since}') AND event_time <= toDateTime({until})) "
        "GROUP BY entry_id HAVING current = 'release' ORDER BY min(event_time) LIMIT 5000"
    )


def read_inside(execute: Callable[[str], list[tuple[Any, ...]]], at: datetime) -> list[Inside]:
    return [
        Inside(str(entry), str(gate), str(plate), _aware(t), bool(int(hazmat)), str(park))
        for entry, gate, plate, t, hazmat, park, _ in execute(inside_sql(at))
    ]


class Board:
    def __init__(
        self, language: Language = "en", rules: Callable[[], RuleSet | None] = lambda: None
    ) -> None:
        self.language = language
        self._rules = rules  # the rule set in force: the dwell cap, the health-code rules
        self._decisions: deque[dict[str, Any]] = deque(maxlen=RECENT)
        # entry id -> (its latest revision, plate), the latest entries read
        self._latest: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._held: list[Held] = []  # the entries whose current decision is a hold (ClickHouse)
        self._inside: list[Inside] = []  # the entries let in with no exit yet (ClickHouse)
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
        reasons = list(
            dict.fromkeys(
                rule_words(self.language, r.rule, "why") for r in decision.rules if not r.passed
            )
        )
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

    def figures_day(self, report: Report, today: date) -> date:
        """The day the figures are of: "today", the park-local date of the board's clock, or,
        when it has no entries yet, the latest day with entries."""
        if str(today) not in report.entries_by_day and report.entries_by_day:
            return date.fromisoformat(max(report.entries_by_day))
        return today

    def on_report(
        self,
        report: Report,
        day: Report,
        held: list[Held],
        inside: list[Inside],
        today: date,
        at: datetime,
    ) -> None:
        """The figures (``report`` over every day, ``day`` over the figures' day), the entries
        held now and those inside, read at ``at``."""
        self._held, self._inside = held, inside
        shown = day.first_day or str(today)
        rules = self._rules()
        code_rules = [r.id for r in rules.of_kind("code_colour")] if rules else ["health_code"]
        overdue = sorted(
            ((e, v["overdue"]) for e, v in report.visits_by_enterprise.items() if v["overdue"]),
            key=lambda ev: (-ev[1], ev[0]),
        )
        self.figures = {
            "day": shown,
            "is_today": shown == str(today),
            "entries": report.entries_by_day.get(shown, 0),
            "peak_entries": report.peak_entries,
            "peak_date": report.peak_date,
            "total_entries": report.total_entries,
            "open_holds": report.held,
            "denied": report.denied,
            "positives": report.positives,
            "positives_today": day.positives,
            "red_codes_today": sum(day.denials_by_rule.get(r, 0) for r in code_rules),
            "overdue_visits": report.overdue_visits,
            "overdue_by_enterprise": [
                {"enterprise": e, "overdue": n} for e, n in overdue[:ENTERPRISES_SHOWN]
            ],
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
        return local_day(self.clock(now)[0])

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        at, live = self.clock(now)
        pending = (say(self.language, "pending.why"), say(self.language, "pending.release"))
        queues: dict[str, list[dict[str, Any]]] = {}
        for held in sorted(self._held, key=lambda h: h.since):
            failed = dict.fromkeys(held.failed_rules)
            queues.setdefault(held.gate, []).append(
                {
                    "entry_id": held.entry_id,
                    "park": held.park,
                    "plate": held.plate,
                    "time": park_time(held.since),
                    "waiting_minutes": _minutes(at - held.since),
                    "why": [rule_words(self.language, r, "why") for r in failed] or [pending[0]],
                    "to_release": [rule_words(self.language, r, "release") for r in failed]
                    or [pending[1]],
                }
            )
        ordered = sorted(self._alerts.values(), key=_alert_order)
        alerts = ordered[:RECENT]
        return {
            "as_of": park_time(at),
            "live": live,
            "time_zone": "Asia/Shanghai",
            "language": self.language,
            "figures": self.figures,
            "figures_at": park_time(self.figures_at) if self.figures_at else None,
            "stale_since": park_time(self.stale_since) if self.stale_since else None,
            "held": {gate: rows[:HELD_SHOWN] for gate, rows in sorted(queues.items())},
            "held_total": len(self._held),  # (the figure "held now" counts from the rollups)
            "inside": self._inside_shown(at),
            "inside_total": len(self._inside),
            "decisions": list(self._decisions),
            # Every open critical alert until an officer acknowledges it, newest first.
            "banners": [
                self._shown(a)
                for a in ordered
                if a["severity"] == "critical" and a["dedup_key"] not in self._acknowledged
            ],
            "alerts": [self._shown(a) for a in alerts],
        }

    def _inside_shown(self, at: datetime) -> list[dict[str, Any]]:
        """The vehicles inside, nearest their cap first (past it first of all), then those with
        no cap, the longest inside first; ``INSIDE_SHOWN`` of each gate, so that a gate's view
        has its own. The cap is the window of the rule set's ``exit_in_time`` rule, for the
        vehicles its subjects take."""
        rules = self._rules()
        rule = rules.clock_rule("exit_in_time") if rules else None
        rows = []
        for v in self._inside:
            inside = max(timedelta(0), at - v.entered)
            cap = _cap(rule, v.hazmat)
            left = cap - inside if cap is not None else None
            order = (0, left.total_seconds()) if left is not None else (1, -inside.total_seconds())
            row: dict[str, Any] = {
                "entry_id": v.entry_id,
                "park": v.park,
                "gate": v.gate,
                "plate": v.plate,
                "time": park_time(v.entered),
                "inside_minutes": _minutes(inside),
                "cap_minutes": _minutes(cap) if cap is not None else None,
                "over_cap": left is not None and left < timedelta(0),
            }
            rows.append((order, row))
        shown: list[dict[str, Any]] = []
        per_gate: dict[str, int] = {}
        for _, row in sorted(rows, key=lambda r: r[0]):
            per_gate[row["gate"]] = per_gate.get(row["gate"], 0) + 1
            if per_gate[row["gate"]] <= INSIDE_SHOWN:
                shown.append(row)
        return shown

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


def _cap(rule: Rule | None, hazmat: bool) -> timedelta | None:
    """How long a vehicle may stay, if the dwell rule takes it. Whether a vehicle is from out of
    the area is not read here: a rule for out-of-area vehicles caps every vehicle on the board
    (a clock too many rather than one missing)."""
    if rule is None or rule.window is None:
        return None
    takes = rule.subjects in ("vehicle", "out_of_area_vehicles") or (
        rule.subjects == "hazmat_vehicles" and hazmat
    )
    return rule.window if takes else None


def _minutes(delta: timedelta) -> int:
    return int(max(timedelta(0), delta).total_seconds() // 60)


def _alert_order(alert: dict[str, Any]) -> tuple[int, float]:
    """Criticals first, then warnings; newest first within each."""
    return (SEVERITY_RANK.get(alert["severity"], 9), -alert["at"].timestamp())
