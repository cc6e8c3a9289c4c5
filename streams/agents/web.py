"""The worker's HTTP server: the live gate board at ``/``, its data at ``/api/board``, and the
Prometheus metrics at ``/metrics``. Bound to loopback by default (``SENTINEL_HTTP_HOST``).

The board's recent decisions and alerts come from ``sentinel.decisions`` and ``sentinel.alerts``,
read by this worker with its own consumer (every partition, outside the group), so each worker's
board shows the whole park. Its figures are the rollups in ClickHouse, read every two seconds.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import faust
from aiohttp import web
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas import Alert, Decision
from streams.agents.reference import follow
from streams.board import Board
from streams.parktime import local_day
from streams.report import build_report
from streams.settings import Settings

log = logging.getLogger(__name__)
BOARD_URL_MARKER = "gate board on"
RECENT_PER_PARTITION = 10


def register(app: faust.App, settings: Settings) -> None:
    board = Board()

    async def page(_: web.Request) -> web.Response:
        html = resources.files("streams.web").joinpath("board.html").read_text()
        return web.Response(text=html, content_type="text/html")

    async def data(_: web.Request) -> web.Response:
        return web.json_response(board.to_json())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.task  # type: ignore[untyped-decorator]
    async def serve() -> None:
        server = web.Application()
        server.add_routes(
            [web.get("/", page), web.get("/api/board", data), web.get("/metrics", metrics)]
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
                settings.http_host, settings.http_port, exc.strerror,
            )  # fmt: skip
            return
        port = runner.addresses[0][1]
        log.info(
            "%s http://%s:%d/ (metrics at /metrics)", BOARD_URL_MARKER, settings.http_host, port
        )

    def on_decision(_: bytes | None, value: bytes | None) -> None:
        if value is not None:
            board.on_decision(Decision.model_validate_json(value))

    def on_alert(_: bytes | None, value: bytes | None) -> None:
        if value is not None:
            board.on_alert(Alert.model_validate_json(value))

    @app.task  # type: ignore[untyped-decorator]
    async def follow_decisions() -> None:
        await follow(settings, "sentinel.decisions", on_decision, tail=RECENT_PER_PARTITION)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_alerts() -> None:
        await follow(settings, "sentinel.alerts", on_alert, tail=RECENT_PER_PARTITION)

    @app.task  # type: ignore[untyped-decorator]
    async def read_figures() -> None:
        client = Client.from_url(settings.clickhouse_url)

        def execute(sql: str) -> list[tuple[Any, ...]]:
            return list(client.execute(sql))

        while True:
            try:
                report = await asyncio.to_thread(build_report, execute)
                board.on_report(report, local_day(datetime.now(UTC)))
            except (ClickHouseError, OSError, EOFError) as exc:
                log.warning("gate board: cannot read ClickHouse (%s); retrying", type(exc).__name__)
                client.disconnect()
            await asyncio.sleep(2.0)
