"""Stage 2, per person: evidence and checks meet here (key: person pseudonym)."""

from __future__ import annotations

import logging
from typing import Any

import faust

from schemas import AntigenTest, EvidenceRef, HealthVisit, NatReport
from streams import metrics
from streams.agents._shared import WorkerState
from streams.agents._tables import StateTable, active_partitions
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

    async def save(key: bytes, output: stage.Output) -> None:
        state, sent_verdicts, raised = output
        people.put(key, state, stage.next_due(state, shared.rules))
        for verdict in sent_verdicts:
            await verdicts.send(
                key=verdict.plate.encode(), value=verdict.model_dump_json().encode()
            )
        for alert in raised:
            await send_alert(alerts, alert)

    async def on_message(base: str, key: bytes, value: bytes, message: Any) -> None:
        rules, lagging, watermark = shared.rules, shared.lagging, shared.watermark
        if base == "sentinel.person-checks":
            wrapped = PersonCheckOrObligation.parse(value)
            if isinstance(wrapped, Obligation):
                await save(key, (stage.on_obligation(people.get(key), wrapped), [], []))
            else:
                await save(key, stage.on_check(people.get(key), wrapped, rules, watermark, lagging))
            return
        if base == "canonical.visits":
            visit = HealthVisit.model_validate_json(value)
            seen = Visit(event_id=visit.event_id, time=visit.event_time, entry_id=visit.entry_id)
            await save(key, (stage.on_visit(people.get(key), seen), [], []))
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
        if shared.recovered:
            # An evidence stream stopped lagging: the checks pending on it are judged again.
            shared.recovered = frozenset()
            keys: list[bytes] = list(people.all_keys(owned))  # a rare, whole sweep
        else:
            keys = people.due_keys(watermark, owned)
        for key in keys:
            await save(key, stage.on_due(people.get(key), shared.rules, watermark, shared.lagging))


def ref_to(message: Any, event_id: str) -> EvidenceRef:
    """Where an event was read: the evidence reference a decision carries."""
    return EvidenceRef(
        event_id=event_id, topic=message.topic, partition=message.partition, offset=message.offset
    )
