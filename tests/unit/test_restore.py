"""A park restored from its changelog records decides, alerts and traces exactly as the park
that wrote them would have gone on to: eleven days of the 2022 story, cut a third of the way in
(what a worker killed mid-run and its successor do, without Kafka)."""

from __future__ import annotations

from typing import Any

from schemas import NatReport
from streams.engine import FAR_FUTURE, Engine, records
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.rules.kinds import Ref
from tests.unit.factories import eleven_days

RULES = load_ruleset(DEFAULT_RULESET)


def outputs(engine: Engine, fed: list[Any], refs: list[Ref]) -> tuple[set[Any], set[Any]]:
    decided, alerted = set(), set()
    for event, ref in zip(fed, refs, strict=True):
        engine.feed(event, ref)
        taken = engine.take()
        decided |= {(d.event_id, d.outcome, d.failed_rules) for d in taken.decisions}
        alerted |= {(a.dedup_key, a.resolved_at is None) for a in taken.alerts}
    engine.advance(FAR_FUTURE)
    taken = engine.take()
    decided |= {(d.event_id, d.outcome, d.failed_rules) for d in taken.decisions}
    alerted |= {(a.dedup_key, a.resolved_at is None) for a in taken.alerts}
    return decided, alerted


def test_a_park_restored_mid_story_goes_on_as_the_one_that_wrote_its_records() -> None:
    story = eleven_days()
    refs = [Ref(e.event_id, type(e).__name__, 0, n) for n, e in enumerate(story)]
    cut = len(story) // 3
    whole = Engine(RULES, record=False)
    for event, ref in zip(story[:cut], refs[:cut], strict=True):
        whole.feed(event, ref)
        whole.take()
    log: dict[tuple[str, str], bytes | None] = {}  # the changelog, compacted: latest per key
    for park, key in whole.dirty():
        log[(park.name, key)] = records.dump(park, key)
    restored = Engine(RULES, record=False)
    by_park: dict[str, dict[str, bytes]] = {}
    for (park, key), value in log.items():
        if value is not None:
            by_park.setdefault(park, {})[key] = value
    for park, entities in by_park.items():
        records.load(restored.park(park), entities)
    for event, ref in zip(story[:cut], refs[:cut], strict=True):  # its followers read these again
        if isinstance(event, NatReport):
            restored.shared.learn_nat(event, ref)
    went_on = outputs(whole, story[cut:], refs[cut:])
    assert outputs(restored, story[cut:], refs[cut:]) == went_on
    assert any(outcome == "release" for _, outcome, _ in went_on[0])  # it did decide
