"""The board stage: the worker's HTTP server, with the live gate board at ``/``, its data at
``/api/board`` and pushed to each screen at ``/api/board/events`` (server-sent events; the
board is computed once a second however many screens watch), and the Prometheus metrics at
``/metrics``. Bound to loopback by default
(``SENTINEL_HTTP_HOST``); beyond it only with a password (``SENTINEL_HTTP_PASSWORD``, basic auth as
``operator``; /metrics also takes ``SENTINEL_METRICS_TOKEN`` as a bearer token).

Every action (a resolution, an acknowledgement) needs the operator's credential, on loopback
too: basic auth as ``operator`` with ``SENTINEL_HTTP_PASSWORD``, or the password the local stack
made (``<state_dir>/secrets/http-operator``); with neither, the board takes no action. The page
asks for it with each action.

An officer resolves a held entry from its gate's queue (``POST /api/entries/<entry id>/resolve``,
``{"action", "officer", "reason"}``): a resolution sent to ``gate.resolutions``, as a gate
system sends it, which the decide stage judges; the queue follows the decision it makes.

An officer acknowledges a critical alert from the board (``POST /api/alerts/<dedup key>/
acknowledge``, ``{"officer": staff id}``): with paging on, that is an Alertmanager silence of
the alert made by the officer, and the banner goes once Alertmanager has it; every worker's
board reads the silences back, so every screen agrees, after a restart too.

The board's recent decisions and alerts come from ``sentinel.decisions`` and ``sentinel.alerts``,
read by this worker with its own consumer (every partition, outside the group), so each worker's
board shows the whole park. Its figures (the rollups) and its queues of held entries (those whose
latest decision revision is a hold) are read from ClickHouse every two seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import aiohttp
import faust
from aiohttp import web
from aiokafka.errors import KafkaError
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as ClickHouseError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from schemas import Alert, Decision
from schemas.resolution import Resolution
from streams import access, failures, metrics
from streams.agents.follow import Follower
from streams.board import RECENT, Board, Held, Inside, read_held, read_inside
from streams.ingest import describe
from streams.parktime import local_day
from streams.progress import announce
from streams.report import Report, build_report
from streams.rules.ruleset import RuleSet
from streams.settings import Settings
from streams.words import Language, board_labels

log = logging.getLogger(__name__)
BOARD_URL_MARKER = "gate board on"
BOARD_NOT_SERVED = "gate board: cannot listen on"
RECENT_PER_PARTITION = 3
PUSH_EVERY = 1.0  # seconds between the board's pushes to its screens (and its recomputations)
ACKNOWLEDGED_FOR = timedelta(hours=24)  # an acknowledged alert pages nobody again for this long
SILENCE_COMMENT = "acknowledged on the gate board:"  # how the board knows its own silences
SIGN_IN = (
    "the operator's password is needed to act: give it with the action (the local stack's is "
    "in <state dir>/secrets/http-operator; a deployment's is SENTINEL_HTTP_PASSWORD)"
)
NO_ACTIONS = (
    "this board takes no action: no operator password is set; set SENTINEL_HTTP_PASSWORD "
    "(the local stack makes one in <state dir>/secrets/http-operator)"
)
OFFICER = re.compile(r"[\w.\-]{1,64}")  # a staff id, as in a resolution (schemas/resolution.py)


def page_in(language: Language) -> str:
    """The board's page with its labels in ``language``, from the message catalogue."""
    html = resources.files("streams.web").joinpath("board.html").read_text(encoding="utf-8")
    words = json.dumps(board_labels(language), ensure_ascii=False).replace("</", "<\\/")
    return html.replace('lang="en"', f'lang="{language}"').replace("/*WORDS*/{}", words)


def register(app: faust.App, settings: Settings, rules: Callable[[], RuleSet]) -> None:
    board = Board(settings.language, rules)
    page = page_in(settings.language)

    async def html(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    shown: dict[str, Any] = {"at": 0.0, "body": b""}  # the board as last computed

    def snapshot() -> bytes:
        """The board's JSON, computed at most once a second however many screens ask."""
        now = time.monotonic()
        if now - shown["at"] >= PUSH_EVERY:
            read_decisions()
            shown["at"], shown["body"] = now, json.dumps(board.to_json()).encode()
        return bytes(shown["body"])

    async def data(_: web.Request) -> web.Response:
        return web.Response(body=snapshot(), content_type="application/json")

    async def events(request: web.Request) -> web.StreamResponse:
        """The board pushed to a screen (server-sent events): each second it changed, and a
        comment every 15 s so that proxies keep the stream open."""
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await stream.prepare(request)
        metrics.BOARD_SCREENS.inc()
        last, quiet = b"", 0.0
        try:
            while True:
                body = snapshot()
                if body != last:
                    await stream.write(b"data: " + body + b"\n\n")
                    last, quiet = body, 0.0
                elif quiet >= 15:
                    await stream.write(b": still here\n\n")
                    quiet = 0.0
                await asyncio.sleep(PUSH_EVERY)
                quiet += PUSH_EVERY
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the screen went away
        finally:
            metrics.BOARD_SCREENS.dec()
        return stream

    async def acknowledge(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if request.content_type != "application/json":  # a form from another site cannot
            return web.json_response({"error": 'send JSON: {"officer": staff id}'}, status=415)
        try:
            officer = str((await request.json()).get("officer", "")).strip()
        except (ValueError, AttributeError):
            officer = ""
        if not OFFICER.fullmatch(officer):
            return web.json_response(
                {
                    "error": 'say who acknowledges: {"officer": your staff id} (letters, digits, '
                    "'.', '-', '_'; at most 64)"
                },
                status=400,
            )
        if not board.is_open(key):
            return web.json_response({"error": f"no open alert {key} on this board"}, status=404)
        if settings.alertmanager_url:
            try:
                await silence(key, officer)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.error("gate board: Alertmanager took no silence for %s: %s", key, exc)
                return web.json_response(
                    {
                        "error": f"Alertmanager did not take the acknowledgement ({exc}); the "
                        "alert still pages: try again, or call the duty officer"
                    },
                    status=502,
                )
        board.acknowledge(key, officer)
        shown["at"] = 0.0  # every screen sees it at the next push
        log.info("alert %s acknowledged on the gate board by %s", key, officer)
        return web.json_response({"acknowledged": key, "by": officer})

    async def resolve(request: web.Request) -> web.Response:
        """An officer's resolution of a held entry, from its gate's queue: sent to
        ``gate.resolutions`` as a gate system sends it; the decide stage judges it (a release is
        refused while someone on board is positive) and the queue follows its decision."""
        entry_id = request.match_info["entry"]
        if request.content_type != "application/json":
            return web.json_response(
                {"error": 'send JSON: {"action", "officer", "reason"}'}, status=415
            )
        try:
            body = await request.json()
            fields = {k: body.get(k) for k in ("action", "officer", "reason")}
        except (ValueError, AttributeError):
            fields = {}
        held = board.held(entry_id)
        if held is None:
            return web.json_response(
                {"error": f"{entry_id} is not in a gate's queue now: nothing to resolve"},
                status=404,
            )
        try:
            resolution = Resolution(
                event_id=f"resolution-{uuid.uuid4().hex[:12]}",
                event_time=datetime.now(UTC).replace(microsecond=0),
                park=held.park,
                entry_id=entry_id,
                **fields,
            )
        except ValidationError as exc:
            return web.json_response({"error": describe(exc)}, status=400)
        try:
            await app.producer.send_and_wait(
                settings.topic("gate.resolutions"),
                held.park.encode(),
                resolution.model_dump_json().encode(),
                None,
                None,
                None,
            )
        except KafkaError as exc:
            return web.json_response(
                {"error": f"Kafka did not take the resolution ({type(exc).__name__}): try again"},
                status=502,
            )
        log.info(
            "resolution %s of %s sent from the gate board: %s by %s",
            resolution.event_id,
            entry_id,
            resolution.action,
            resolution.officer,
        )
        return web.json_response({"sent": resolution.event_id}, status=202)

    async def silence(key: str, officer: str) -> None:
        now = datetime.now(UTC)
        body = {
            "matchers": [{"name": "dedup_key", "value": key, "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + ACKNOWLEDGED_FOR).isoformat(),
            "createdBy": officer,
            "comment": f"{SILENCE_COMMENT} {key}",
        }
        url = f"{settings.alertmanager_url.rstrip('/')}/api/v2/silences"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.post(url, json=body) as response,
        ):
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}: {(await response.text())[:200]}")

    async def read_silences() -> None:
        """The board's acknowledgements Alertmanager holds, active ones: dedup key -> officer."""
        url = f"{settings.alertmanager_url.rstrip('/')}/api/v2/silences"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(url) as response,
        ):
            silences = await response.json() if response.status == 200 else []
        board.on_silences(
            {
                m["value"]: s["createdBy"]
                for s in silences
                if s.get("status", {}).get("state") == "active"
                and s.get("comment", "").startswith(SILENCE_COMMENT)
                for m in s.get("matchers", [])
                if m.get("name") == "dedup_key"
            }
        )

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    operator_password = access.board_password(settings)

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        authorization = request.headers.get("Authorization")
        if not access.http_allowed(settings, request.path, authorization):
            return web.Response(
                status=401,
                text="the gate board asks for user and password (SENTINEL_HTTP_PASSWORD)\n",
                headers={"WWW-Authenticate": 'Basic realm="gate sentinel"'},
            )
        if request.method == "POST" and not access.http_act_allowed(
            operator_password, authorization
        ):
            # No WWW-Authenticate: the page asks for the password in its own form.
            if not operator_password:
                return web.json_response({"error": NO_ACTIONS}, status=403)
            return web.json_response({"error": SIGN_IN}, status=401)
        return await handler(request)  # type: ignore[no-any-return]

    @app.task  # type: ignore[untyped-decorator]
    async def serve() -> None:
        server = web.Application(middlewares=[guard])
        server.add_routes(
            [
                web.get("/", html),
                web.get("/api/board", data),
                web.get("/api/board/events", events),
                web.post("/api/alerts/{key}/acknowledge", acknowledge),
                web.post("/api/entries/{entry}/resolve", resolve),
                web.get("/metrics", scrape),
            ]
        )
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        # The pipeline matters more than its board: it runs on while the port is taken, and
        # the board tries the port again until it is free.
        delays = failures.Delays(2.0, 30.0)
        while True:
            site = web.TCPSite(runner, settings.http_host, settings.http_port)
            try:
                await site.start()
                break
            except OSError as exc:
                await site.stop()
                wait = delays.failed()
                log.error(
                    "%s %s:%d (%s): no gate board and no /metrics until it is free (next try "
                    "in %.0f s); set SENTINEL_HTTP_PORT to a free port, or 0 to pick one",
                    BOARD_NOT_SERVED,
                    settings.http_host,
                    settings.http_port,
                    exc.strerror,
                    wait,
                )
                await asyncio.sleep(wait)
        port = runner.addresses[0][1]
        where = f"http://{settings.http_host}:{port}/"
        announce(log, settings.log_level, "%s %s (metrics at /metrics)", BOARD_URL_MARKER, where)

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

        def read(clock: datetime) -> tuple[Report, Report, list[Held], list[Inside]]:
            """What the board shows from ClickHouse, as of its ``clock``."""
            today = local_day(clock)
            report = build_report(execute)
            day = board.figures_day(report, today)
            return (
                report,
                build_report(execute, day, day),
                read_held(execute, today),
                read_inside(execute, clock),
            )

        while True:
            read_decisions()  # the board's clock follows the data read
            now = datetime.now(UTC)
            try:
                clock = board.clock(now)[0]
                report, day, held, inside = await asyncio.to_thread(read, clock)
                board.on_report(report, day, held, inside, local_day(clock), now)
                wait = backoff.succeeded()
            except (ClickHouseError, OSError, EOFError) as exc:
                board.on_figures_failed(now)
                wait = backoff.failed(exc)
                client.disconnect()
            if settings.alertmanager_url:
                try:
                    await read_silences()
                except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                    log.debug("gate board: no silences read from Alertmanager: %s", exc)
            await asyncio.sleep(wait)
