"""Every Prometheus metric a worker exposes, in one place (prometheus-client).

Labels never carry people, plates or anything from an event's payload beyond park, gate, topic,
rule, outcome and severity. Served on the worker's HTTP server at ``/metrics`` (loopback by
default; streams/agents/web.py). Alert rules over them: deploy/prometheus/rules.yml.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter(
    "sentinel_events_in_total", "Raw messages read by ingestion, by topic", ["topic"]
)
DEAD_LETTERS = Counter(
    "sentinel_dead_letters_total", "Messages sent to the DLQ, by source topic and error class",
    ["topic", "error"],
)  # fmt: skip
GATE_ENTRIES = Counter(
    "sentinel_gate_entries_total", "Vehicle entries ingested, by park and gate", ["park", "gate"]
)
GATE_LAST_SEEN = Gauge(
    "sentinel_gate_last_seen_timestamp_seconds",
    "Wall-clock time of the last entry, exit or heartbeat ingested from the gate",
    ["park", "gate"],
)
DECISIONS = Counter(
    "sentinel_decisions_total", "Decisions sent (revisions included), by outcome", ["outcome"]
)
RULE_FAILURES = Counter(
    "sentinel_rule_failures_total", "Rules failed in the decisions sent, by rule", ["rule"]
)
ALERTS = Counter("sentinel_alerts_total", "Alerts sent, by severity and rule", ["severity", "rule"])
RESENT = Counter(
    "sentinel_resent_total",
    "Messages sent again for a replayed input (a crash may have lost them), by stage",
    ["stage"],
)
NAT_AGE_AT_GATE = Histogram(
    "sentinel_nat_age_at_gate_hours",
    "Age, at the gate, of the NAT sample an occupant presents (evidence age)",
    buckets=(6, 12, 24, 36, 42, 48, 60, 72, 96, 168),
)
DECISION_LATENCY = Histogram(
    "sentinel_decision_latency_seconds",
    "From an entry's event time to its decision being sent (wall clock)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
PENDING_TIMERS = Gauge(
    "sentinel_pending_timers", "Keys with a deadline waiting for the watermark, by stage",
    ["stage"],
)  # fmt: skip
WATERMARK = Gauge(
    "sentinel_watermark_timestamp_seconds",
    "Event time up to which the group's inputs are complete (this worker's view)",
)
CONSUMER_LAG = Gauge(
    "sentinel_consumer_lag_messages",
    "Messages not processed yet on this worker's partitions, by topic",
    ["topic"],
)  # fmt: skip
SINK_BATCH_ROWS = Histogram(
    "sentinel_sink_batch_rows", "Rows per ClickHouse insert, by table", ["table"],
    buckets=(1, 10, 100, 500, 1000, 5000, 20000),
)  # fmt: skip
SINK_SECONDS = Histogram(
    "sentinel_sink_insert_seconds", "ClickHouse insert time, retries included, by table",
    ["table"],
)  # fmt: skip
SINK_FAILURES = Counter(
    "sentinel_sink_failures_total", "ClickHouse insert attempts that failed (each is retried)",
    ["table"],
)  # fmt: skip
PAGES = Counter("sentinel_pages_total", "Alerts posted to Alertmanager, by severity", ["severity"])
PAGE_FAILURES = Counter(
    "sentinel_page_failures_total", "Failed posts to Alertmanager (each is retried)"
)
