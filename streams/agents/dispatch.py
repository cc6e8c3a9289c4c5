"""The alert dispatcher: ``sentinel.alerts`` -> Alertmanager's API (``SENTINEL_ALERTMANAGER_URL``).

An alert's labels are its identity: ``alertname`` (the rule), ``severity``, ``park``, ``gate``,
``enterprise`` and the stable ``dedup_key``. Posting the same alert again (a replayed topic, a
retry after a failed post) changes nothing in Alertmanager, which notifies a group once and then
only every ``repeat_interval`` (deploy/alertmanager/alertmanager.yml). An alert sent again with
``resolved_at`` is posted ending then, which closes it.

Paging judges by when the pipeline learnt of an alert (``detected_at``, in event time), not by
what it is about: a lab result reported 30 h after its sample pages at once; an alert learnt more
than ``SENTINEL_PAGE_MAX_AGE_SECONDS`` ago (last month's, replayed) pages nobody: it is in
ClickHouse. Records are acked only once Alertmanager accepted them, or refused them for good:
a 4xx answer (our request is wrong, retrying cannot help) is logged and dead-lettered, after the
batch's alerts were posted one by one so that only those refused are (one bad alert must not keep
a positive from paging); a 5xx or an unreachable Alertmanager is retried with capped backoff, for
as long as it takes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import faust

from schemas import Alert
from streams import failures, metrics
from streams.agents._topics import Topics
from streams.agents.batches import deliver, exit_unacked
from streams.outbox import Send, dead_letter
from streams.parktime import park_time
from streams.settings import Settings
from streams.words import Language, rule_words, say

log = logging.getLogger(__name__)
FIRING_FOR = timedelta(hours=24)  # how long Alertmanager keeps an alert firing after its post


def payload(alert: Alert, now: datetime, language: Language = "en") -> dict[str, Any]:
    """An Alertmanager v2 alert. Labels carry no person: the subject is a pseudonym or a plate,
    and it goes in an annotation, not in the identity. Its words are the catalogue's in the
    park's language (streams/words.py): ``firing`` and ``resolved``, the headline of a
    notification; ``line``, the alert in it; the receivers' templates only lay them out."""
    labels = {
        "alertname": alert.rule,
        "severity": alert.severity,
        "park": alert.park,
        "dedup_key": alert.dedup_key,
        "source": "gate-sentinel",
    }
    if alert.gate:
        labels["gate"] = alert.gate
    if alert.enterprise:
        labels["enterprise"] = alert.enterprise
    annotations = {
        "summary": alert.message,
        "subject": alert.subject,
        **headlines(alert, language),
    }
    if alert.entry_id:
        annotations["entry_id"] = alert.entry_id
    ends = alert.resolved_at or max(now, alert.detected_at) + FIRING_FOR
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": alert.event_time.isoformat(),
        "endsAt": ends.isoformat(),
    }


def headlines(alert: Alert, language: Language) -> dict[str, str]:
    """A notification's headline as firing and as resolved ("【紧急】检测阳性，园区 p"), and the
    alert's line in it (gate, subject, summary, since or until when), in ``language``."""
    name = rule_words(language, alert.rule, "name")
    where = (
        say(language, "page.enterprise", enterprise=alert.enterprise) if alert.enterprise else ""
    )
    severity = say(language, f"severity.{alert.severity}")
    when = (
        say(language, "page.ended", time=park_time(alert.resolved_at))
        if alert.resolved_at
        else say(language, "page.since", time=park_time(alert.event_time))
    )
    line = say(
        language,
        "page.line",
        gate=say(language, "page.gate", gate=alert.gate) if alert.gate else "",
        subject=alert.subject,
        summary=alert.message,
    )
    return {
        "firing": say(language, "page.firing", severity=severity, name=name, park=alert.park)
        + where,
        "resolved": say(language, "page.resolved", name=name, park=alert.park) + where,
        "line": line + when,
    }


def to_page(alerts: list[Alert], now: datetime, max_age: timedelta) -> list[Alert]:
    """The alerts to post: those learnt within ``max_age`` (and their closings)."""
    return [a for a in alerts if now - a.detected_at <= max_age]


class Refused(Exception):
    """Alertmanager answered 4xx: the request is wrong; retrying cannot help."""


def register(app: faust.App, topics: Topics, settings: Settings) -> None:
    if not settings.alertmanager_url:
        return
    url = settings.alertmanager_url.rstrip("/") + "/api/v2/alerts"
    max_age = timedelta(seconds=settings.page_max_age_seconds)

    async def post(session: aiohttp.ClientSession, alerts: list[dict[str, Any]]) -> None:
        delays = failures.Delays(0.5, 10.0)
        while True:
            try:
                async with session.post(url, json=alerts) as response:
                    if response.status < 300:
                        return
                    text = (await response.text())[:200]
                    if 400 <= response.status < 500 and response.status != 429:
                        raise Refused(f"HTTP {response.status}: {text}")
                    reason = f"HTTP {response.status}: {text}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = type(exc).__name__
            metrics.PAGE_FAILURES.inc()
            delay = delays.failed()
            log.warning(
                "posting %d alerts to %s failed (attempt %d: %s); retry in %.1fs",
                len(alerts),
                url,
                delays.failures,
                reason,
                delay,
            )
            await asyncio.sleep(delay)

    @app.agent(topics("sentinel.alerts"), name="dispatch_alerts")
    async def dispatch_alerts(stream: faust.StreamT[bytes]) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async for batch in stream.take_events(200, within=0.05):  # type: ignore[attr-defined]
                # An exception inside a take() batch would ack the whole batch unhandled
                # (faust-streaming#315): an alert would be committed unpaged.
                try:
                    await dispatch(session, batch)
                except BaseException as exc:  # noqa: BLE001
                    exit_unacked("the alert dispatcher", exc)

    async def dispatch(session: aiohttp.ClientSession, batch: list[Any]) -> None:
        now = datetime.now(UTC)
        alerts: list[tuple[Alert, Any]] = []  # each with its record
        letters: list[Send] = []
        for event in batch:
            try:
                alerts.append((Alert.model_validate_json(event.value), event.message))
            except Exception as exc:  # noqa: BLE001
                letters.append(
                    dead_letter(
                        event.message,
                        "sentinel.alerts",
                        "dispatch",
                        type(exc).__name__,
                        "not an alert",
                    )
                )
        fresh = [(a, m) for a, m in alerts if to_page([a], now, max_age)]
        if len(fresh) < len(alerts):
            log.info(
                "not paging %d alerts learnt more than %s ago",
                len(alerts) - len(fresh),
                max_age,
            )
        try:
            if fresh:
                await post(session, [payload(a, now, settings.language) for a, _ in fresh])
            paged = [a for a, _ in fresh]
        except Refused:
            # One alert Alertmanager refuses must not keep the others from paging:
            # each is posted alone, and only those refused are dead-lettered.
            paged = []
            for alert, message in fresh:
                try:
                    await post(session, [payload(alert, now, settings.language)])
                    paged.append(alert)
                except Refused as refused:
                    log.error(
                        "Alertmanager refused alert %s (%s); dead-lettered",
                        alert.dedup_key,
                        refused,
                    )
                    letters.append(
                        dead_letter(message, "sentinel.alerts", "dispatch", "Refused", str(refused))
                    )
        await deliver(app.producer, settings.topic, letters)  # then Faust acks the batch
        for alert in paged:
            if alert.resolved_at is None:
                metrics.PAGES.labels(alert.severity).inc()
