"""The Faust app: built from the settings, with every stage's agents registered on it.

Agents are thin: they decode, call the pure core, and hand the result to a topic or a sink.
Faust's web server is off: its table views would serve raw state.
"""

from __future__ import annotations

import faust

from streams.agents import decide, ingest, write
from streams.agents._topics import Topics
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
    for stage in (ingest, decide, write):
        stage.register(app, topics, settings)
    return app
