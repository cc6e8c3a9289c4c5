"""The alert dispatcher: ``sentinel.alerts`` -> Alertmanager's API (``SENTINEL_ALERTMANAGER_URL``).

An alert's labels are its identity: ``alertname`` (the rule), ``severity``, ``park``, ``gate``,
``enterprise`` and the stable ``dedup_key``. Posting the same alert again (a replayed topic, a
retry after a failed post) changes nothing in Alertmanager, which notifies a group once and then
only every ``repeat_interval`` (deploy/alertmanager/alertmanager.yml). Messages are acked only
after Alertmanager accepted them; while it is unreachable, posts are retried with capped backoff.
Alerts older than ``SENTINEL_PAGE_MAX_AGE_SECONDS`` (a replay of history) are not paged: they are
in ClickHouse, and nobody needs a page about last month.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import faust

from schemas import Alert
from streams import metrics
from streams.agents._topics import Topics
from streams.settings import Settings

log = logging.getLogger(__name__)
FIRING_FOR = timedelta(hours=24)  # how long Alertmanager keeps an alert firing after its post


def payload(alert: Alert, now: datetime) -> dict[str, Any]:
    """An Alertmanager v2 alert. Labels carry no person: the subject is a pseudonym or a plate,
    and it goes in an annotation, not in the identity."""
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
    annotations = {"summary": alert.message, "subject": alert.subject}
    if alert.entry_id:
        annotations["entry_id"] = alert.entry_id
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": alert.event_time.isoformat(),
        "endsAt": (max(now, alert.event_time) + FIRING_FOR).isoformat(),
    }


def register(app: faust.App, topics: Topics, settings: Settings) -> None:
    if not settings.alertmanager_url:
        return
    url = settings.alertmanager_url.rstrip("/") + "/api/v2/alerts"
    max_age = timedelta(seconds=settings.page_max_age_seconds)

    async def post(session: aiohttp.ClientSession, alerts: list[dict[str, Any]]) -> None:
        delay = 0.5
        while True:
            try:
                async with session.post(url, json=alerts) as response:
                    if response.status < 300:
                        return
                    reason = f"HTTP {response.status}: {(await response.text())[:200]}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = type(exc).__name__
            metrics.PAGE_FAILURES.inc()
            log.warning("posting %d alerts to %s failed (%s); retry in %.1fs",
                        len(alerts), url, reason, delay)  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    @app.agent(topics("sentinel.alerts"), name="page_alerts")
    async def page_alerts(stream: faust.StreamT[bytes]) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async for batch in stream.take(200, within=0.05):
                now = datetime.now(UTC)
                alerts = [Alert.model_validate_json(value) for value in batch]
                fresh = [a for a in alerts if now - a.event_time <= max_age]
                if len(fresh) < len(alerts):
                    log.info(
                        "not paging %d alerts older than %s", len(alerts) - len(fresh), max_age
                    )
                if fresh:
                    await post(session, [payload(a, now) for a in fresh])
                    for alert in fresh:
                        metrics.PAGES.labels(alert.severity).inc()
