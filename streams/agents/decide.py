"""Stage 3, per vehicle: entries, exits and the occupants' verdicts meet here (key: plate)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import cast

import faust

from schemas import VehicleEntry, VehicleExit
from streams import metrics
from streams.agents._shared import WorkerState
from streams.agents._tables import StateTable, active_partitions, sweep
from streams.agents._topics import Topics, send_alert
from streams.agents.judge import ref_to
from streams.rules import vehicle as stage
from streams.rules.person import PersonCheckOrObligation, PersonVerdict
from streams.rules.vehicle import RiskHistory, VehicleState
from streams.settings import Settings

log = logging.getLogger(__name__)


def register(
    app: faust.App,
    topics: Topics,
    settings: Settings,
    shared: WorkerState,
    risk: dict[str, RiskHistory],
) -> None:
    vehicles = StateTable(app, "vehicles", VehicleState)
    entries_topic = settings.topic("canonical.entries")  # keyed by plate, as the table
    checks = topics("sentinel.person-checks")
    decisions = topics("sentinel.decisions")
    alerts = topics("sentinel.alerts")

    def due(state: VehicleState) -> datetime | None:
        return stage.next_due(state, shared.rules)

    def count(out: stage.VehicleOutput) -> None:
        """Metrics and log lines of what ``out`` decided (not of what a replay sends again)."""
        for decision in out.decisions:
            metrics.DECISIONS.labels(decision.outcome).inc()
            for rule in decision.failed_rules:
                metrics.RULE_FAILURES.labels(rule).inc()
            if decision.revision == 0:
                latency = datetime.now(UTC) - decision.event_time
                metrics.DECISION_LATENCY.observe(latency.total_seconds())
            log.info(
                "decision %s: %s %s", decision.event_id, decision.outcome,
                ",".join(decision.failed_rules + decision.pending_rules) or "-",
            )  # fmt: skip

    async def send(key: bytes, out: stage.VehicleOutput) -> list[asyncio.Future[object]]:
        """Hand ``out``'s messages to the producer; their delivery futures."""
        sent = []
        for check in out.checks:
            value = PersonCheckOrObligation.check(check)
            sent.append(await checks.send(key=check.person.encode(), value=value))
        for obligation in out.obligations:
            value = PersonCheckOrObligation.obligation(obligation)
            sent.append(await checks.send(key=obligation.person.encode(), value=value))
        for decision in out.decisions:
            value = decision.model_dump_json().encode()
            sent.append(await decisions.send(key=decision.entry_id.encode(), value=value))
        for alert in out.alerts:
            sent.append(await send_alert(alerts, alert, again=out.resent))
        again = len(sent) - len(out.checks)
        if not out.resent:
            count(out)
        elif again:
            metrics.RESENT.labels("vehicle").inc(again)
            log.info(
                "replayed input for %s: sent again %d decisions, %d obligations, %d alerts",
                key.decode(), len(out.decisions), len(out.obligations), len(out.alerts),
            )  # fmt: skip
        return sent  # type: ignore[return-value]

    async def save(key: bytes, out: stage.VehicleOutput) -> None:
        vehicles.put(key, out.state, due(out.state))
        await send(key, out)

    async def on_message(event: faust.EventT[bytes]) -> None:
        message = event.message
        base = topics.base(message.topic)
        key = cast(bytes, event.key)  # every input is keyed
        rules = shared.rules
        if base == "sentinel.person-verdicts":
            verdict = PersonVerdict.model_validate_json(event.value)
            await save(key, stage.on_verdict(vehicles.get(key), verdict, message.offset, rules))
        elif base == "canonical.entries":
            entry = VehicleEntry.model_validate_json(event.value)
            for occupant in entry.occupants:
                if occupant.nat_sample_time is not None:
                    age = entry.event_time - occupant.nat_sample_time
                    metrics.NAT_AGE_AT_GATE.observe(age.total_seconds() / 3600)
            ref = ref_to(message, entry.event_id)
            history = risk.get(entry.origin_region, ())
            await save(key, stage.on_entry(vehicles.get(key), entry, ref, rules, history))
        else:
            exit_ = VehicleExit.model_validate_json(event.value)
            await save(key, stage.on_exit(vehicles.get(key), exit_, rules))
        shared.done((base, message.partition), message.offset)

    @app.agent(
        topics("canonical.entries", "canonical.exits", "sentinel.person-verdicts"),
        name="decide_vehicles",
    )
    async def decide_vehicles(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            async with vehicles.lock:
                await on_message(event)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def sweep_vehicles() -> None:
        watermark = shared.watermark
        metrics.PENDING_TIMERS.labels("vehicle").set(vehicles.pending())
        owned = active_partitions(app, entries_topic)
        keys = vehicles.due_keys(watermark, owned)
        await sweep(vehicles, keys, lambda s: stage.on_due(s, shared.rules, watermark), send, due)
