"""Reference data every worker needs whole: the rule set in force and the risk-area colours.

Both live in small compacted topics, so each worker reads them entirely, from the beginning, with
its own consumer (no group): every worker sees every rule set and every region. A rule set
published with `sentinel rules publish` is in force on every worker within a second, no restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import RiskAreaUpdate
from streams.agents._shared import WorkerState
from streams.rules.ruleset import RuleSetError, parse_ruleset
from streams.rules.vehicle import RiskHistory
from streams.settings import Settings
from streams.topics import spec

log = logging.getLogger(__name__)


def register(
    app: faust.App, settings: Settings, shared: WorkerState, risk: dict[str, RiskHistory]
) -> None:
    def on_ruleset(key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        try:
            rules = parse_ruleset(value.decode(), f"sentinel.rulesets[{key!r}]")
        except RuleSetError as exc:  # `rules publish` validates first; this is a stray producer
            log.error("ignored an invalid rule set: %s", exc)
            return
        shared.use(rules)

    def on_risk(key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        update = RiskAreaUpdate.model_validate_json(value)
        history = risk.get(update.region, ())
        if all(t != update.event_time for t, _ in history):
            risk[update.region] = tuple(sorted((*history, (update.event_time, update.colour))))

    @app.task  # type: ignore[untyped-decorator]
    async def follow_rulesets() -> None:
        await follow(settings, "sentinel.rulesets", on_ruleset)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_risk_areas() -> None:
        await follow(settings, "canonical.risk-areas", on_risk)


async def follow(
    settings: Settings,
    base: str,
    handle: Callable[[bytes | None, bytes | None], None],
    tail: int | None = None,
) -> None:
    """Read catalogue topic ``base`` from the beginning (or its last ``tail`` records per
    partition), then keep following it."""
    topic = settings.topic(base)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        # The catalogue knows the partitions (aiokafka's metadata may not list a topic that no
        # consumer of it has subscribed to).
        partitions = [TopicPartition(topic, p) for p in range(spec(base).partitions)]
        consumer.assign(partitions)
        if tail is None:
            await consumer.seek_to_beginning()
        else:
            starts = await consumer.beginning_offsets(partitions)
            for tp, end in (await consumer.end_offsets(partitions)).items():
                consumer.seek(tp, max(starts[tp], end - tail))
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    handle(record.key, record.value)
    finally:
        await consumer.stop()
