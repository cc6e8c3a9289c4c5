"""Stage 3, per vehicle: entries, exits and the occupants' verdicts meet here (key: plate)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import faust

from schemas import VehicleEntry, VehicleExit
from streams import metrics
from streams.agents._shared import WorkerState
from streams.agents._tables import StateTable, active_partitions
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

    async def save(key: bytes, out: stage.VehicleOutput) -> None:
        vehicles.put(key, out.state, stage.next_due(out.state, shared.rules))
        for check in out.checks:
            await checks.send(key=check.person.encode(), value=PersonCheckOrObligation.check(check))
        for obligation in out.obligations:
            await checks.send(
                key=obligation.person.encode(), value=PersonCheckOrObligation.obligation(obligation)
            )
        for decision in out.decisions:
            await decisions.send(
                key=decision.entry_id.encode(), value=decision.model_dump_json().encode()
            )
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
        for alert in out.alerts:
            await send_alert(alerts, alert)

    @app.agent(
        topics("canonical.entries", "canonical.exits", "sentinel.person-verdicts"),
        name="decide_vehicles",
    )
    async def decide_vehicles(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            base = topics.base(message.topic)
            key: bytes = event.key
            rules = shared.rules
            if base == "sentinel.person-verdicts":
                verdict = PersonVerdict.model_validate_json(event.value)
                await save(key, stage.on_verdict(vehicles.get(key), verdict, rules))
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

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def sweep_vehicles() -> None:
        watermark = shared.watermark
        metrics.PENDING_TIMERS.labels("vehicle").set(vehicles.pending())
        owned = active_partitions(app, entries_topic)
        for key in vehicles.due_keys(watermark, owned):
            await save(key, stage.on_due(vehicles.get(key), shared.rules, watermark))
