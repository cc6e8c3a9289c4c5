"""The Faust app: built from the settings, with every stage's agents registered on it.

Agents are thin: they decode, call the pure core, and hand the result to a topic or a sink.
Faust's web server is off: its table views would serve raw state. The worker's own HTTP server
(streams/agents/web.py) serves the gate board and /metrics instead, on loopback by default.
"""

from __future__ import annotations

import faust

from streams.agents import (
    clock,
    decide,
    ingest,
    judge,
    page,
    reference,
    rollup,
    watermark,
    web,
    write,
)
from streams.agents._shared import WorkerState
from streams.agents._topics import Topics
from streams.rules import DEFAULT_RULESET, load_ruleset
from streams.rules.vehicle import RiskHistory
from streams.settings import Settings


def create_app(settings: Settings) -> faust.App:
    datadir = settings.state_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server.strip()}" for server in settings.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        processing_guarantee="at_least_once",
    )
    topics = Topics(app, settings)
    # The bundled rule set is in force until one is published on sentinel.rulesets.
    shared = WorkerState(load_ruleset(DEFAULT_RULESET), settings.evidence_lag_max)
    risk: dict[str, RiskHistory] = {}
    ingest.register(app, topics, settings, shared)
    reference.register(app, settings, shared, risk)
    clock.register(app, settings, shared)
    watermark.register(app, topics, settings, shared)
    judge.register(app, topics, settings, shared)
    decide.register(app, topics, settings, shared, risk)
    rollup.register(app, topics, settings, shared)
    write.register(app, topics, settings)
    page.register(app, topics, settings)
    web.register(app, settings)
    return app
