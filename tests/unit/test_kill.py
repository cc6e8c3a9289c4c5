"""A worker killed at any moment, and its successor, decide and page what one uninterrupted
worker would: the decide stage's batch processor (``streams/processor.py``) and its write order
(``streams/agents/batches.py``) checked without Kafka, at every kind of cut a SIGKILL can make.

What a kill leaves: every batch's outputs up to the one in flight; the state records of the
batches before it, and a *prefix* of the in-flight batch's records (they go out one by one, in
the order :meth:`Processor.take` gives); offsets committed up to some earlier batch (Faust commits
every few seconds). The successor restores the compacted changelog, its followers read the lab
reports again, and it reads the inputs again from the committed offsets.

A SIGKILL in the 2022 story test once left four entries held for a missing antigen and five
false overdue visits: a batch's clock record had reached the changelog, the antigen that moved
the park's antigen clock had not.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from streams.engine import FAR_FUTURE, Engine, records
from streams.engine.outputs import Decided
from streams.engine.tracked import EPOCH
from streams.ingest import Accepted, Ingestor
from streams.processor import Processor, Raw
from streams.pseudonym import Pseudonymiser
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.rules.kinds import Ref
from workbench.simulator.jinshan import Params, generate
from workbench.simulator.traffic import FIRST_DAY

RULES = load_ruleset(DEFAULT_RULESET)
BATCH = 40
Read = tuple[Raw, datetime]  # a raw record, and its event's time


@pytest.fixture(scope="module")
def story() -> list[tuple[str, bytes, datetime]]:
    """The jinshan-2022 story (seed 2) up to its eleventh day: raw topic, value, event time."""
    return [
        (topic, event.model_dump_json().encode(), event.event_time)  # type: ignore[attr-defined]
        for topic, event in generate(Params(seed=2)).events
        if event.event_time.date() <= FIRST_DAY + timedelta(days=10)  # type: ignore[attr-defined]
    ]


def ingestor() -> Ingestor:
    return Ingestor(
        Pseudonymiser(b"k" * 32), max_message_bytes=1 << 20, future_tolerance=timedelta(0)
    )


class Run:
    """The decide stage's batch processor fed batch by batch, its outputs and its changelog as
    the stage writes them.

    Each topic is a lane read in event-time order, the lanes at uneven speeds (as a consumer
    fetches them); a park's clock may go no further than the least event time read from a lane
    that has more to come (``streams/engine/lanes.py``)."""

    def __init__(self, order: list[Read], start: int = 0) -> None:
        engine = Engine(RULES, live=True, record=False)
        engine.bound = self._bound
        self.processor = Processor(engine, ingestor(), wall=lambda: FAR_FUTURE)
        self.order = order
        self.at = start
        self.last = {raw.topic: n for n, (raw, _) in enumerate(order)}  # a lane's last record
        self.seen: dict[str, datetime] = dict.fromkeys(self.last, EPOCH)
        self.decisions: list[list[Decided]] = []  # per batch
        self.alerts: list[set[str]] = []  # per batch: dedup keys raised
        self.batches: list[list[tuple[bytes, bytes | None]]] = []  # state records, per batch

    def _bound(self, park: str) -> datetime:
        held = [self.seen[t] for t, last in self.last.items() if last >= self.at]
        return min(held, default=FAR_FUTURE)

    def go_on(self) -> Run:
        while self.at < len(self.order):
            for raw, at in self.order[self.at : self.at + BATCH]:
                self.seen[raw.topic] = max(self.seen[raw.topic], at)
                self.processor.read(raw)
                self.at += 1
            self.processor.advance()
            batch = self.processor.take()
            assert not [s for s in batch.outputs if s.topic == "sentinel.dlq"], "dead-lettered"
            self.decisions.append(batch.decisions)
            self.alerts.append({a.dedup_key for a in batch.alerts if a.resolved_at is None})
            self.batches.append([(s.key or b"", s.value) for s in batch.state])
        return self


def lanes(story: list[tuple[str, bytes, datetime]], chance: random.Random) -> list[Read]:
    """The story as one consumer reads it: each topic in order, runs of one topic at a time."""
    queues: dict[str, list[Read]] = {}
    for topic, value, at in story:
        queue = queues.setdefault(topic, [])
        queue.append((Raw(topic, value, 0, len(queue)), at))
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


def latest(*runs: list[list[Decided]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """What ClickHouse reads: per entry, the highest revision; of equal ones, the last written."""
    kept: dict[str, Decided] = {}
    for decision in (d for batches in runs for batch in batches for d in batch):
        if decision.revision >= kept.get(decision.entry_id, decision).revision:
            kept[decision.entry_id] = decision
    return {e: (d.outcome, tuple(d.failed_rules)) for e, d in kept.items()}


def killed(whole: Run, in_flight: int, kept: int, committed: int) -> Run:
    """Batch ``in_flight`` killed after ``kept`` of its state records; inputs committed up to
    batch ``committed``; the successor restores the changelog and goes on from there."""
    log: dict[bytes, bytes | None] = {}
    for written in [*whole.batches[:in_flight], whole.batches[in_flight][:kept]]:
        log.update(written)
    successor = Run(whole.order, committed * BATCH)
    grouped: dict[str, dict[str, bytes]] = {}
    for key, value in log.items():
        if value is not None:
            park, entity = records.split_key(key)
            grouped.setdefault(park, {})[entity] = value
    successor.processor.restore(0, grouped)
    read = ingestor()
    for raw, _ in whole.order[: (in_flight + 1) * BATCH]:  # its followers read again
        if raw.topic == "health.nat":
            report = read.ingest(raw.topic, raw.value, now=FAR_FUTURE)
            assert isinstance(report, Accepted)
            ref = Ref(report.event_id, "canonical.nat", 0)
            successor.processor.engine.shared.learn_nat(report.event, ref)
    return successor.go_on()


@pytest.mark.parametrize("seed", [1, 2])  # how the lanes are read; where the kills fall
def test_a_kill_at_any_cut_changes_no_decision_and_no_page(
    story: list[tuple[str, bytes, datetime]], seed: int
) -> None:
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
