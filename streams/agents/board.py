"""The board stage: the worker's HTTP server, with the live gate board at ``/``, its data at
``/api/board``, and the Prometheus metrics at ``/metrics``. Bound to loopback by default
(``SENTINEL_HTTP_HOST``); beyond it only with a password (``SENTINEL_HTTP_PASSWORD``, basic auth as
``operator``; /metrics also takes ``SENTINEL_METRICS_TOKEN`` as a bearer token).

The board's recent decisions and alerts come from ``sentinel.decisions`` and ``sentinel.alerts``,
read by this worker with its own consumer (every partition, outside the group), so each worker's
board shows the whole park. Its figures (the rollups) and its queues of held entries (those whose
latest decision revision is a hold) are read from ClickHouse every two seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import faust
from aiohttp import web
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from schemas import Alert, Decision
from streams import access, failures, metrics
from streams.agents.follow import Follower
from streams.board import RECENT, Board, Held, read_held
from streams.ingest import describe
from streams.report import Report, build_report
from streams.settings import Settings
from streams.worker import announce

log = logging.getLogger(__name__)
BOARD_URL_MARKER = "gate board on"
RECENT_PER_PARTITION = 3


def register(app: faust.App, settings: Settings) -> None:
    board = Board()

    async def html(_: web.Request) -> web.Response:
        html = resources.files("streams.web").joinpath("board.html").read_text()
        return web.Response(text=html, content_type="text/html")

    async def data(_: web.Request) -> web.Response:
        read_decisions()
        return web.json_response(board.to_json())

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if access.http_allowed(settings, request.path, request.headers.get("Authorization")):
            return await handler(request)  # type: ignore[no-any-return]
        return web.Response(
            status=401,
            text="the gate board asks for user and password (SENTINEL_HTTP_PASSWORD)\n",
            headers={"WWW-Authenticate": 'Basic realm="gate sentinel"'},
        )

    @app.task  # type: ignore[untyped-decorator]
    async def serve() -> None:
        server = web.Application(middlewares=[guard])
        server.add_routes(
            [web.get("/", html), web.get("/api/board", data), web.get("/metrics", scrape)]
        )
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as exc:  # the pipeline matters more than its board: run on without it
            log.error(
                "no gate board and no /metrics: cannot listen on %s:%d (%s); set "
                "SENTINEL_HTTP_PORT to a free port, or 0 to pick one",
                settings.http_host,
                settings.http_port,
                exc.strerror,
            )
            return
        port = runner.addresses[0][1]
        where = f"http://{settings.http_host}:{port}/"
        announce(log, settings, "%s %s (metrics at /metrics)", BOARD_URL_MARKER, where)

    # Decisions arrive by the thousand in a replay and the board shows thirty: the latest are
    # kept as read, and decoded when the board is asked for.
    unread: deque[bytes] = deque(maxlen=RECENT * 4)

    def on_decision(record: Any) -> None:
        if record.value is not None:
            unread.append(record.value)

    def read_decisions() -> None:
        while unread:
            value = unread.popleft()
            try:
                board.on_decision(Decision.model_validate_json(value))
            except ValidationError as exc:
                metrics.UNREADABLE.labels("sentinel.decisions").inc()
                log.error("gate board: skipped an unreadable decision (%s)", describe(exc))

    def on_alert(record: Any) -> None:
        if record.value is not None:
            board.on_alert(Alert.model_validate_json(record.value))

    decisions = Follower(settings, "sentinel.decisions", on_decision, tail=RECENT_PER_PARTITION)
    alerts = Follower(settings, "sentinel.alerts", on_alert, tail=RECENT_PER_PARTITION)

    @app.task  # type: ignore[untyped-decorator]
    async def board_follows_decisions() -> None:
        await decisions.run()

    @app.task  # type: ignore[untyped-decorator]
    async def board_follows_alerts() -> None:
        await alerts.run()

    @app.task  # type: ignore[untyped-decorator]
    async def read_figures() -> None:
        client = Client.from_url(access.clickhouse_url(settings))

        def execute(sql: str) -> list[tuple[Any, ...]]:
            return list(client.execute(sql))

        backoff = failures.Backoff(log, "gate board: reading ClickHouse", every=2.0, longest=30.0)

        def read(today: date) -> tuple[Report, list[Held]]:
            return build_report(execute), read_held(execute, today)

        while True:
            read_decisions()  # the board's clock follows the data read
            now = datetime.now(UTC)
            try:
                today = board.today(now)
                report, held = await asyncio.to_thread(read, today)
                board.on_report(report, held, today, now)
                wait = backoff.succeeded()
            except (ClickHouseError, OSError, EOFError) as exc:
                board.on_figures_failed(now)
                wait = backoff.failed(exc)
                client.disconnect()
            await asyncio.sleep(wait)
