"""Stage 2, per person: evidence and checks meet here (key: person pseudonym)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import faust

from schemas import AntigenTest, EvidenceRef, HealthVisit, NatReport
from streams import metrics
from streams.agents._shared import WorkerState
from streams.agents._tables import StateTable, active_partitions, sweep
from streams.agents._topics import Topics, send_alert
from streams.rules import person as stage
from streams.rules.person import (
    Evidence,
    Obligation,
    PersonCheckOrObligation,
    PersonState,
    Visit,
)
from streams.settings import Settings

log = logging.getLogger(__name__)
EVIDENCE_TOPICS = ("canonical.antigen", "canonical.nat")


def register(app: faust.App, topics: Topics, settings: Settings, shared: WorkerState) -> None:
    people = StateTable(app, "people", PersonState)
    evidence_topic = settings.topic("canonical.antigen")  # keyed by person, as the table
    verdicts = topics("sentinel.person-verdicts")
    alerts = topics("sentinel.alerts")

    def due(state: PersonState) -> datetime | None:
        return stage.next_due(state, shared.rules)

    async def send(key: bytes, out: stage.PersonOutput) -> list[asyncio.Future[object]]:
        """Hand ``out``'s messages to the producer; their delivery futures."""
        sent = []
        for verdict in out.verdicts:
            value = verdict.model_dump_json().encode()
            sent.append(await verdicts.send(key=verdict.plate.encode(), value=value))
        for alert in out.alerts:
            sent.append(await send_alert(alerts, alert, again=out.resent))
        if out.resent and sent:
            metrics.RESENT.labels("person").inc(len(sent))
            log.info(
                "replayed evidence: sent again %d verdicts, %d alerts",
                len(out.verdicts), len(out.alerts),
            )  # fmt: skip
        return sent  # type: ignore[return-value]

    async def save(key: bytes, out: stage.PersonOutput) -> None:
        people.put(key, out.state, due(out.state))
        await send(key, out)

    async def on_message(base: str, key: bytes, value: bytes, message: Any) -> None:
        rules, lagging, watermark = shared.rules, shared.lagging, shared.watermark
        if base == "sentinel.person-checks":
            wrapped = PersonCheckOrObligation.parse(value)
            if isinstance(wrapped, Obligation):
                await save(key, stage.PersonOutput(stage.on_obligation(people.get(key), wrapped)))
            else:
                await save(key, stage.on_check(people.get(key), wrapped, rules, watermark, lagging))
            return
        if base == "canonical.visits":
            visit = HealthVisit.model_validate_json(value)
            seen = Visit(event_id=visit.event_id, time=visit.event_time, entry_id=visit.entry_id)
            await save(key, stage.PersonOutput(stage.on_visit(people.get(key), seen)))
            return
        if base == "canonical.antigen":
            antigen = AntigenTest.model_validate_json(value)
            ref = ref_to(message, antigen.event_id)
            evidence = Evidence(
                kind="antigen", time=antigen.event_time, result=antigen.result, ref=ref
            )
            person, park = antigen.person, antigen.park
        else:
            nat = NatReport.model_validate_json(value)
            ref = ref_to(message, nat.event_id)
            evidence = Evidence(kind="nat", time=nat.sample_time, result=nat.result, ref=ref)
            person, park = nat.person, "-"
        state = people.get(key)
        await save(key, stage.on_evidence(state, person, evidence, rules, watermark, lagging, park))

    @app.agent(
        topics(*EVIDENCE_TOPICS, "canonical.visits", "sentinel.person-checks"), name="judge_people"
    )
    async def judge_people(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            base = topics.base(message.topic)
            async with people.lock:
                await on_message(base, event.key, event.value, message)
            shared.done((base, message.partition), message.offset)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def sweep_people() -> None:
        """Deadlines the watermark has passed fire here, with no event for that person; after
        an evidence stream stopped lagging, the open checks are judged again."""
        watermark = shared.watermark
        metrics.PENDING_TIMERS.labels("person").set(people.pending())
        if people.restoring:
            return  # no keys to sweep until recovery is done; keep `recovered` for then
        owned = active_partitions(app, evidence_topic)
        recovered, lagging = shared.recovered, shared.lagging
        if recovered:
            # An evidence stream stopped lagging: the checks pending on it are judged again.
            shared.recovered = frozenset()
            keys: list[bytes] = list(people.all_keys(owned))  # a rare, whole sweep
        else:
            keys = people.due_keys(watermark, owned)

        def step(state: PersonState) -> stage.PersonOutput:
            return stage.on_due(state, shared.rules, watermark, lagging)

        if not await sweep(people, keys, step, send, due):
            shared.recovered |= recovered  # stopped by a rebalance: the whole sweep again


def ref_to(message: Any, event_id: str) -> EvidenceRef:
    """Where an event was read: the evidence reference a decision carries."""
    return EvidenceRef(
        event_id=event_id, topic=message.topic, partition=message.partition, offset=message.offset
    )
