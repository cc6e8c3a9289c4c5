"""The worker: a Faust app with the pipeline's stages registered on it, each with one name used
in the code, the logs, the metrics and the docs:

- **decide** (``streams/agents/decide.py``, task ``decide_releases``, consumer group
  ``<app id>``): every raw topic, a park's partition at a time: validation, pseudonyms, the rule
  engine, rollups; its state in ``sentinel.decide-state`` (``streams/agents/state.py``);
- **follow** (``streams/agents/follow.py``): what every worker reads whole: rule sets, risk
  areas, lab reports, other parks' notices;
- **sink** (``streams/agents/sink.py``, group ``<app id>.sink``): the tables of ClickHouse, in
  batches;
- **dispatch** (``streams/agents/dispatch.py``, agent ``dispatch_alerts``, Faust's consumer
  group ``<app id>.dispatch``): alerts to Alertmanager;
- **board** (``streams/agents/board.py``): the gate board and ``/metrics``.

Faust's own web server is off: its table views would serve raw state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import faust
from faust.tables import TableManager
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

from schemas import NatReport, RiskAreaUpdate
from schemas.notice import PositiveNotice, StopNotice
from schemas.operations import Quarantine
from streams import access
from streams.agents import board, decide, dispatch
from streams.agents._topics import Topics
from streams.agents.decide import DecideStage
from streams.agents.follow import Follower
from streams.agents.local import LocalStore
from streams.agents.quarantine import Quarantines
from streams.agents.sink import Sink
from streams.agents.state import StateStore
from streams.engine import Engine
from streams.engine.lanes import Lanes
from streams.ingest import Ingestor
from streams.processor import LANES, Limits, Processor
from streams.pseudonym import Pseudonymiser
from streams.rules import DEFAULT_RULESET, load_ruleset, parse_ruleset
from streams.rules.kinds import Ref
from streams.settings import Settings

log = logging.getLogger(__name__)
ACTIVE = b"active"  # the key of the rule set in force on sentinel.rulesets


@dataclass
class Pipeline:
    app: faust.App
    stage: DecideStage
    store: StateStore
    followers: list[Follower]

    async def ready(self) -> None:
        """Read up: every followed topic to its end, every held partition restored."""
        await self.stage.ready()
        await self.store.all_ready()


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's producer, idempotent as well as acks=all (Faust turns idempotence on only in
    transactions): a send retried after a broker failover is written once, in order."""

    def _settings_extra(self) -> Any:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _Transport(faust_aiokafka.Transport):
    Producer = _IdempotentProducer


class _TableManager(TableManager):
    """Faust's table manager without the second it sleeps before it starts (and the worker's
    tasks wait for it): this app has no Faust table, and a restart is ready that much sooner."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


TRANSPORT = "sentinel-kafka"  # the broker URL scheme of Faust's transport with that producer
drivers.TRANSPORTS.aliases[TRANSPORT] = f"{__name__}:_Transport"


def create_app(settings: Settings) -> Pipeline:
    datadir = settings.state_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.app_id}.dispatch",  # Faust's group: the decide stage's is <app id>
        broker=[f"{TRANSPORT}://{s.strip()}" for s in settings.kafka_bootstrap.split(",")],
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,  # the catalogue makes the topics (`sentinel topics create`)
        # A worker killed without a goodbye is noticed after this long, and its alerts' partitions
        # move: 20 s rather than Faust's 60, heartbeats every 3 s (as the decide stage's group).
        broker_session_timeout=20.0,
        broker_heartbeat_interval=3.0,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_credentials=access.faust_credentials(settings),
        processing_guarantee="at_least_once",
        TableManager=_TableManager,
    )
    topics = Topics(app, settings)
    engine = Engine(
        load_ruleset(DEFAULT_RULESET),
        loopback=False,
        record=False,
        live=True,
        language=settings.language,
    )
    quarantines = Quarantines(settings)
    processor = Processor(
        engine,
        Ingestor(
            Pseudonymiser(access.pseudonym_key(settings)),
            max_message_bytes=settings.max_message_bytes,
            future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
        ),
        partitions=settings.partitions,
        lanes=Lanes(LANES, settings.source_idle_seconds),
        limits=Limits(settings.dlq_window, settings.dlq_max_share),
        quarantine=quarantines,
        prefix=settings.topic_prefix,
    )
    store = StateStore(settings, processor, LocalStore.of(settings))
    stage = DecideStage(app, topics, settings, processor, store, quarantines, [])
    stage.followers.extend(_followers(settings, engine, stage))
    decide.register(app, settings, stage)
    for follower in stage.followers:
        app.task(follower.run)

    @app.task  # type: ignore[untyped-decorator]
    async def publish_bundled() -> None:
        """The bundled rule set, archived beside the published ones (key ``bundled``; only
        ``active`` puts a set in force), so that decisions made by it resolve to its text."""
        await stage.followers[0].caught_up.wait()
        text = DEFAULT_RULESET.read_text(encoding="utf-8")
        await app.producer.send(
            settings.topic("sentinel.rulesets"), b"bundled", text.encode(), None, None, None
        )

    sink = Sink(app, settings)

    @app.task  # type: ignore[untyped-decorator]
    async def write_rows() -> None:
        await sink.run()

    dispatch.register(app, topics, settings)
    board.register(app, settings, lambda: engine.rules)
    return Pipeline(app, stage, store, stage.followers)


def _followers(settings: Settings, engine: Engine, stage: DecideStage) -> list[Follower]:
    published: list[str] = []

    def ruleset(record: Any) -> None:
        if record.value is None or record.key != ACTIVE:
            return  # other keys: the archive of bundled sets (see publish_bundled)
        rules = parse_ruleset(record.value.decode(), f"sentinel.rulesets@{record.offset}")
        published.append(rules.version)
        if rules.content_hash != engine.rules.content_hash:
            log.info("rule set %s in force (was %s)", rules.version, engine.rules.version)
        engine.use(rules)

    def risk(record: Any) -> None:
        if record.value is not None:
            engine.shared.learn_risk(RiskAreaUpdate.model_validate_json(record.value))

    def nat(record: Any) -> None:
        report = NatReport.model_validate_json(record.value)
        ref = Ref(report.event_id, "canonical.nat", record.partition, record.offset)
        stage.inbox.append(lambda: engine.learn_nat(report, ref))

    def evidence(record: Any) -> None:
        kind = b'"kind":"stop"' in record.value
        notice = (StopNotice if kind else PositiveNotice).model_validate_json(record.value)
        stage.inbox.append(lambda: engine.learn(notice))

    def quarantine(record: Any) -> None:
        stage.learn_quarantine(Quarantine.model_validate_json(record.value))

    return [
        Follower(settings, "sentinel.rulesets", ruleset),
        Follower(settings, "canonical.risk-areas", risk),
        Follower(settings, "canonical.nat", nat),
        Follower(settings, "sentinel.evidence", evidence),
        Follower(settings, "sentinel.quarantine", quarantine),
    ]
