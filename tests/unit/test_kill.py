"""A worker killed at any moment, and its successor, decide and page what one uninterrupted
worker would: the decide stage's write order (``streams/agents/decide.py``) checked without
Kafka, at every kind of cut a SIGKILL can make.

What a kill leaves: every batch's outputs up to the one in flight; the state records of the
batches before it, and a *prefix* of the in-flight batch's records (they go out one by one, in
the order :meth:`Engine.dirty` gives); offsets committed up to some earlier batch (Faust commits
every few seconds). The successor restores the compacted changelog, its followers read the lab
reports again, and it reads the inputs again from the committed offsets.

A SIGKILL in the 2022 story test once left four entries held for a missing antigen and five
false overdue visits: a batch's clock record had reached the changelog, the antigen that moved
the park's antigen clock had not.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest

from schemas import Decision, NatReport
from streams.engine import FAR_FUTURE, Engine, records
from streams.engine.tracked import EPOCH
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.rules.kinds import Ref
from tests.unit.factories import eleven_days

RULES = load_ruleset(DEFAULT_RULESET)
BATCH = 40
Read = tuple[str, Any, Ref]  # topic, event, where it was read


@pytest.fixture(scope="module")
def story() -> list[Any]:
    return eleven_days()


class Run:
    """A live engine fed batch by batch, its outputs and its changelog as the stage writes them.

    Each topic is a lane read in event-time order, the lanes at uneven speeds (as a consumer
    fetches them); a park's clock may go no further than the least event time read from a lane
    that has more to come (``streams/engine/lanes.py``)."""

    def __init__(self, order: list[Read], start: int = 0) -> None:
        self.engine = Engine(RULES, live=True, record=False)
        self.engine.bound = self._bound
        self.order = order
        self.at = start
        self.last = {topic: n for n, (topic, _, _) in enumerate(order)}  # a lane's last event
        self.seen: dict[str, datetime] = dict.fromkeys(self.last, EPOCH)
        self.decisions: list[list[Decision]] = []  # per batch
        self.alerts: list[set[str]] = []  # per batch: dedup keys raised
        self.batches: list[list[tuple[tuple[str, str], bytes | None]]] = []  # state records

    def _bound(self, park: str) -> datetime:
        held = [self.seen[t] for t, last in self.last.items() if last >= self.at]
        return min(held, default=FAR_FUTURE)

    def go_on(self) -> Run:
        while self.at < len(self.order):
            for topic, event, ref in self.order[self.at : self.at + BATCH]:
                self.seen[topic] = max(self.seen[topic], event.event_time)
                self.engine.feed(event, ref)
                self.at += 1
            self.engine.advance()
            out = self.engine.take()
            self.decisions.append(out.decisions)
            self.alerts.append({a.dedup_key for a in out.alerts if a.resolved_at is None})
            self.batches.append(
                [((p.name, key), records.dump(p, key)) for p, key in self.engine.dirty()]
            )
        return self


def lanes(story: list[Any], chance: random.Random) -> list[Read]:
    """The story as one consumer reads it: each topic in order, runs of one topic at a time."""
    queues: dict[str, list[Read]] = {}
    for n, event in enumerate(story):
        topic = type(event).__name__
        queues.setdefault(topic, []).append((topic, event, Ref(event.event_id, topic, 0, n)))
    for queue in queues.values():
        queue.reverse()
    order = []
    while queues:
        topic = chance.choice(sorted(queues))
        for _ in range(chance.randrange(1, 3 * BATCH)):
            if not queues[topic]:
                del queues[topic]
                break
            order.append(queues[topic].pop())
    return order


def latest(*runs: list[list[Decision]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """What ClickHouse reads: per entry, the highest revision; of equal ones, the last written."""
    kept: dict[str, Decision] = {}
    for decision in (d for batches in runs for batch in batches for d in batch):
        if decision.revision >= kept.get(decision.entry_id, decision).revision:
            kept[decision.entry_id] = decision
    return {e: (d.outcome, tuple(d.failed_rules)) for e, d in kept.items()}


def killed(whole: Run, in_flight: int, kept: int, committed: int) -> Run:
    """Batch ``in_flight`` killed after ``kept`` of its state records; inputs committed up to
    batch ``committed``; the successor goes on from there."""
    log: dict[tuple[str, str], bytes | None] = {}
    for written in [*whole.batches[:in_flight], whole.batches[in_flight][:kept]]:
        log.update(written)
    successor = Run(whole.order, committed * BATCH)
    by_park: dict[str, dict[str, bytes]] = {}
    for (park, key), value in log.items():
        if value is not None:
            by_park.setdefault(park, {})[key] = value
    for park, entities in by_park.items():
        records.load(successor.engine.park(park), entities)
    for _, event, ref in whole.order[: (in_flight + 1) * BATCH]:  # its followers read again
        if isinstance(event, NatReport):
            successor.engine.shared.learn_nat(event, ref)
    return successor.go_on()


@pytest.mark.parametrize("seed", [1, 2])  # how the lanes are read; where the kills fall
def test_a_kill_at_any_cut_changes_no_decision_and_no_page(story: list[Any], seed: int) -> None:
    chance = random.Random(seed)
    whole = Run(lanes(story, chance)).go_on()
    truth = latest(whole.decisions)
    paged = set().union(*whole.alerts)
    assert paged and any(failed for _, failed in truth.values())  # it held, and paged
    batches = len(whole.batches)
    wrong = []
    for _ in range(12):
        in_flight = chance.randrange(batches // 10, batches - 1)
        kept = chance.randrange(len(whole.batches[in_flight]) + 1)
        committed = in_flight - chance.randrange(4)
        successor = killed(whole, in_flight, kept, committed)
        got = latest(whole.decisions[: in_flight + 1], successor.decisions)
        differ = sorted(e for e in truth if got.get(e) != truth[e])
        alerts = set().union(*whole.alerts[: in_flight + 1], *successor.alerts)
        if differ or alerts != paged:
            wrong.append(
                f"killed in batch {in_flight} after {kept} state records, committed up to "
                f"{committed}: decisions {[(e, truth[e], got.get(e)) for e in differ[:2]]}, "
                f"alerts {sorted(alerts ^ paged)[:3]}"
            )
    assert not wrong, wrong
