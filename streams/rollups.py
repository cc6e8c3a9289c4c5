"""Rollups, the pure core: facts folded from events and decisions, and absolute snapshots of their
groups.

Every input event becomes (or updates) one *fact*, stored under a stable key: ``entry:<id>``,
``decision:<entry id>``, ``positive:<event id>``, ``obligation:<entry id>:<person>``,
``overdue:<alert dedup key>``. A fact is a small JSON-able dict; folding the same event twice
gives no change, and a later decision revision replaces the earlier one. So replays never
double-count, and a superseded decision is corrected, not added.

A fact contributes to *groups*: one row of a rollup table (``TABLES``, the DDL is
``streams/sink/migrations/0004_rollups.sql``). Facts live in a *shard*, the partition of the
decide stage that made them; a worker owns its partitions' shards. A snapshot is a group's
absolute values over one shard's facts, with a version that rises; ClickHouse keeps the latest
per (group, shard), and readers sum over shards (docs/clickhouse.md).

The decide stage folds what it reads and decides (:meth:`Rollups.fold`) and keeps every fact it
changed in its changelog, beside its parks' state (``streams/agents/state.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from schemas import Alert, AntigenTest, Decision, NatReport, VehicleEntry, VehicleExit
from streams.engine.outputs import Decided, ObligationMade
from streams.parktime import PARK_TZ, local_day

Fact = dict[str, Any]
Group = tuple[str, tuple[Any, ...]]  # (table, key values)
Contribution = tuple[Group, dict[str, int]]
OVERDUE_PREFIX = "visits-overdue:"  # the dedup key of an overdue-visit alert


@dataclass(frozen=True)
class RollupTable:
    name: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    maxes: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.keys, "shard", "version", *self.sums, *self.maxes)


TABLES: dict[str, RollupTable] = {
    t.name: t
    for t in (
        RollupTable(
            "rollup_gate_hourly", ("park", "gate", "day", "hour"), ("entries", "held_on_arrival")
        ),
        RollupTable(
            "rollup_outcomes_daily", ("park", "day"), ("decided", "released", "held", "denied")
        ),
        RollupTable("rollup_rules_daily", ("park", "day", "rule"), ("holds", "denials")),
        RollupTable("rollup_positives_daily", ("day", "kind"), ("positives",)),
        RollupTable(
            "rollup_visits_daily", ("park", "enterprise", "day"), ("obligations", "overdue")
        ),
        RollupTable(
            "rollup_dwell_daily", ("park", "day"), ("exits", "dwell_seconds"), ("longest_seconds",)
        ),
    )
}


# -- folding events into facts: (key, new fact), or None when the event changes nothing ------


def _at_gate(park: str, gate: str, at: datetime) -> Fact:
    """Where and when, as the gate-hour groups count: the park-local day and hour."""
    local = at.astimezone(PARK_TZ)
    return {"park": park, "gate": gate, "day": str(local.date()), "hour": local.hour}


def fold_entry(entry: VehicleEntry, old: Fact | None) -> tuple[str, Fact] | None:
    if old is not None and "t" in old:
        return None  # a replay
    fact = {
        **(old or {}),
        **_at_gate(entry.park, entry.gate, entry.event_time),
        "t": int(entry.event_time.timestamp()),
    }
    return f"entry:{entry.event_id}", fact


def exit_key(exit_: VehicleExit) -> str | None:
    return None if exit_.entry_id is None else f"entry:{exit_.entry_id}"


def fold_exit(exit_: VehicleExit, old: Fact | None) -> tuple[str, Fact] | None:
    """The earliest exit of an entry counts (an exit naming no entry cannot be matched)."""
    key = exit_key(exit_)
    at = int(exit_.event_time.timestamp())
    if key is None or (old is not None and old.get("x", at + 1) <= at):
        return None
    fact = {"day": str(local_day(exit_.event_time)), **(old or {}), "x": at}
    return key, fact


def fold_decision(decision: Decision | Decided, old: Fact | None) -> tuple[str, Fact] | None:
    """The current decision of an entry. Of two of the same revision, the later stands, as in
    the decisions table (a worker killed after sending a decision but before keeping its state:
    its successor decides the entry again, maybe otherwise, having read more by then)."""
    if old is not None and decision.revision < old["rev"]:
        return None  # an older revision: the current decision stands
    fact = {
        **_at_gate(decision.park, decision.gate, decision.event_time),
        "rev": decision.revision,
        "outcome": decision.outcome,
        "failed": list(decision.failed_rules),
        "first": decision.outcome if old is None or decision.revision == 0 else old["first"],
    }
    if fact == old:
        return None  # a replay
    return f"decision:{decision.entry_id}", fact


def fold_test(test: AntigenTest | NatReport, old: Fact | None) -> tuple[str, Fact] | None:
    """A positive counts on the day it was reported (an antigen: read; a NAT: the lab's
    report), as its alert says, whatever day it was sampled."""
    if test.result != "positive" or old is not None:
        return None
    kind = "antigen" if isinstance(test, AntigenTest) else "nat"
    return f"positive:{test.event_id}", {"day": str(local_day(test.event_time)), "kind": kind}


def obligation_key(obligation: ObligationMade) -> str:
    return f"obligation:{obligation.entry_id}:{obligation.person}"


def fold_obligation(obligation: ObligationMade, old: Fact | None) -> tuple[str, Fact] | None:
    if old is not None:
        return None
    fact = {
        "park": obligation.park,
        "enterprise": obligation.enterprise,
        "day": str(local_day(obligation.due)),
    }
    return obligation_key(obligation), fact


def fold_alert(alert: Alert, old: Fact | None) -> tuple[str, Fact] | None:
    """Overdue-visit alerts count against the enterprise (other alerts are counted elsewhere)."""
    if not alert.dedup_key.startswith(OVERDUE_PREFIX) or old is not None:
        return None
    fact = {
        "park": alert.park,
        "enterprise": alert.enterprise or "",
        "day": str(local_day(alert.event_time)),
    }
    return f"overdue:{alert.dedup_key}", fact


Lookup = Callable[[str], Fact | None]
Folded = (
    AntigenTest
    | NatReport
    | VehicleEntry
    | VehicleExit
    | Decision
    | Decided
    | Alert
    | ObligationMade
)


def fold_one(item: Folded, lookup: Lookup) -> tuple[str, Fact] | None:
    """The fact one input or output creates or updates; None when it changes nothing."""
    if isinstance(item, VehicleEntry):
        return fold_entry(item, lookup(f"entry:{item.event_id}"))
    if isinstance(item, VehicleExit):
        key = exit_key(item)
        return fold_exit(item, lookup(key)) if key else None
    if isinstance(item, AntigenTest | NatReport):
        return fold_test(item, lookup(f"positive:{item.event_id}"))
    if isinstance(item, Decision | Decided):
        return fold_decision(item, lookup(f"decision:{item.entry_id}"))
    if isinstance(item, Alert):
        return fold_alert(item, lookup(f"overdue:{item.dedup_key}"))
    return fold_obligation(item, lookup(obligation_key(item)))


# -- what a fact contributes ----------------------------------------------------------------


def contributions(key: str, fact: Fact) -> list[Contribution]:
    kind = key.split(":", 1)[0]
    if kind == "entry":
        if "t" not in fact:
            return []  # an exit whose entry is not read yet
        park, day = fact["park"], fact["day"]
        out: list[Contribution] = [
            (("rollup_gate_hourly", (park, fact["gate"], day, fact["hour"])), {"entries": 1})
        ]
        if "x" in fact and fact["x"] >= fact["t"]:
            dwell = fact["x"] - fact["t"]
            measures = {"exits": 1, "dwell_seconds": dwell, "longest_seconds": dwell}
            out.append((("rollup_dwell_daily", (park, day)), measures))
        return out
    if kind == "decision":
        park, day, outcome = fact["park"], fact["day"], fact["outcome"]
        named = {"release": "released", "hold": "held", "deny": "denied"}[outcome]
        out = [
            (("rollup_outcomes_daily", (park, day)), {"decided": 1, named: 1}),
            (
                ("rollup_gate_hourly", (park, fact["gate"], day, fact["hour"])),
                {"held_on_arrival": int(fact["first"] != "release")},
            ),
        ]
        measure = "denials" if outcome == "deny" else "holds"
        out += [
            (("rollup_rules_daily", (park, day, rule)), {measure: 1}) for rule in fact["failed"]
        ]
        return out
    if kind == "positive":
        return [(("rollup_positives_daily", (fact["day"], fact["kind"])), {"positives": 1})]
    if kind in ("obligation", "overdue"):
        measure = "obligations" if kind == "obligation" else "overdue"
        group = ("rollup_visits_daily", (fact["park"], fact["enterprise"], fact["day"]))
        return [(group, {measure: 1})]
    raise ValueError(f"not a rollup fact key: {key!r}")


# -- the facts of this worker's shards, and their snapshots ---------------------------------


class Rollups:
    """Facts by key, each in its shard; which groups changed since the last flush, and which
    facts since they were last written to the changelog."""

    def __init__(self) -> None:
        self._facts: dict[str, tuple[int, Fact]] = {}
        self._members: dict[tuple[int, Group], set[str]] = defaultdict(set)
        self._dirty: set[tuple[int, Group]] = set()
        self._in_flight: set[tuple[int, Group]] = set()  # flushed, not known written yet
        self._changed: set[tuple[int, str]] = set()  # (shard, fact key) to write

    def __len__(self) -> int:
        return len(self._facts)

    def fold(self, shard: int, item: Folded) -> None:
        """Fold an input or output of shard ``shard``'s decide stage."""
        folded = fold_one(item, self.get)
        if folded is not None:
            self.put(shard, *folded)
            self._changed.add((shard, folded[0]))

    def get(self, key: str) -> Fact | None:
        held = self._facts.get(key)
        return None if held is None else held[1]

    def fact(self, shard: int, key: str) -> Fact | None:
        held = self._facts.get(key)
        return held[1] if held is not None and held[0] == shard else None

    def facts_of(self, shard: int) -> list[tuple[str, Fact]]:
        return [(key, fact) for key, (s, fact) in self._facts.items() if s == shard]

    def take_changed(self) -> set[tuple[int, str]]:
        changed, self._changed = self._changed, set()
        return changed

    def drop_shard(self, shard: int) -> None:
        """Forget a shard another worker now owns (its facts are in the changelog)."""
        for key in [k for k, (s, _) in self._facts.items() if s == shard]:
            _, fact = self._facts.pop(key)
            for group, _ in contributions(key, fact):
                self._members.pop((shard, group), None)
                self._dirty.discard((shard, group))
                self._in_flight.discard((shard, group))
        self._changed = {c for c in self._changed if c[0] != shard}

    def put(self, shard: int, key: str, fact: Fact) -> None:
        self._forget(key)
        self._facts[key] = (shard, fact)
        for group, _ in contributions(key, fact):
            self._members[(shard, group)].add(key)
            self._dirty.add((shard, group))

    def _forget(self, key: str) -> None:
        old = self._facts.pop(key, None)
        if old is None:
            return
        shard, fact = old
        for group, _ in contributions(key, fact):
            members = self._members[(shard, group)]
            members.discard(key)
            self._dirty.add((shard, group))

    def prune(self, shard: int, before: date) -> list[str]:
        """Drop the shard's facts of days before ``before``; their groups are final, and their
        last snapshots stay in ClickHouse as they are. A fact of a group whose snapshot is not
        written yet (changed since the last flush, or flushed and not confirmed) stays until it
        is: a flush held up by a ClickHouse hang while the clock ran 60 days on once lost 1,731
        groups, dropped here unwritten. Returns the keys dropped."""
        cutoff = str(before)
        pending = self._dirty | self._in_flight
        dropped = [
            k
            for k, (s, f) in self._facts.items()
            if s == shard
            and f["day"] < cutoff
            and not any((shard, group) in pending for group, _ in contributions(k, f))
        ]
        for key in dropped:
            _, fact = self._facts.pop(key)
            for group, _ in contributions(key, fact):
                self._members.pop((shard, group), None)
                self._dirty.discard((shard, group))
            self._changed.add((shard, key))  # a tombstone
        return dropped

    def clear(self) -> None:
        self._facts.clear()
        self._members.clear()
        self._dirty.clear()
        self._in_flight.clear()

    def flush(self, shards: Iterable[int], version: int) -> dict[str, list[tuple[Any, ...]]]:
        """Rows of every changed group in ``shards``, per table; those groups are clean after,
        and in flight until :meth:`written` (or :meth:`not_written`) says how their write went."""
        owned = set(shards)
        rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for shard, group in sorted(g for g in self._dirty if g[0] in owned):
            rows[group[0]].append(self._snapshot(shard, group, version))
            self._dirty.discard((shard, group))
            self._in_flight.add((shard, group))
            if not self._members.get((shard, group)):
                self._members.pop((shard, group), None)
        return dict(rows)

    def written(self) -> None:
        """The last flush's snapshots are in ClickHouse."""
        self._in_flight.clear()

    def not_written(self) -> None:
        """The last flush's snapshots did not reach ClickHouse: flushed again next time."""
        self._dirty |= self._in_flight
        self._in_flight.clear()

    def _snapshot(self, shard: int, group: Group, version: int) -> tuple[Any, ...]:
        table = TABLES[group[0]]
        values = dict.fromkeys((*table.sums, *table.maxes), 0)
        for key in self._members.get((shard, group), ()):
            for g, measures in contributions(key, self._facts[key][1]):
                if g != group:
                    continue
                for name, value in measures.items():
                    if name in table.maxes:
                        values[name] = max(values[name], value)
                    else:
                        values[name] += value
        keys = tuple(
            date.fromisoformat(v) if name == "day" else v
            for name, v in zip(table.keys, group[1], strict=True)
        )
        return (*keys, shard, version, *values.values())


class VersionClock:
    """Snapshot versions: microseconds of the wall clock, strictly rising within a process. One
    worker owns a shard at a time, so a later owner's snapshots carry later versions."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, now: datetime) -> int:
        self._last = max(self._last + 1, int(now.timestamp() * 1_000_000))
        return self._last
