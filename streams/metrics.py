"""Every Prometheus metric a worker exposes, in one place (prometheus-client).

Labels never carry people, plates or anything from an event's payload beyond park, gate, topic,
rule, outcome and severity. Served on the worker's HTTP server at ``/metrics`` (loopback by
default; streams/agents/web.py). Alert rules over them: deploy/prometheus/rules.yml.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series beside every counter

EVENTS_IN = Counter(
    "sentinel_events_in_total", "Raw messages read by ingestion, by topic", ["topic"]
)
DEAD_LETTERS = Counter(
    "sentinel_dead_letters_total",
    "Messages sent to the DLQ, by source topic and error class",
    ["topic", "error"],
)
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
LATE = Counter(
    "sentinel_late_events_total",
    "Events behind their park's watermark (kept on sentinel.late), by canonical topic",
    ["topic"],
)
REKEYED = Counter(
    "sentinel_rekeyed_total",
    "Raw events keyed by the old scheme, sent again keyed by their park, by topic",
    ["topic"],
)
UNREADABLE = Counter(
    "sentinel_unreadable_records_total",
    "Records of a followed topic that could not be read (skipped, logged), by topic",
    ["topic"],
)
CLOCK_TICKS = Counter(
    "sentinel_clock_ticks_total", "Times the decide stage's clock looked at its parks' deadlines"
)
ROLLUP_FLUSHES = Counter(
    "sentinel_rollup_flushes_total", "Rollup flushes done (each writes the groups that changed)"
)
STATE_RECORDS = Counter(
    "sentinel_state_records_total", "Changelog records written by the decide stage"
)
STATE_BYTES = Counter(
    "sentinel_state_bytes_total", "Bytes of the changelog records written by the decide stage"
)
RESTORE_SECONDS = Histogram(
    "sentinel_restore_seconds",
    "Time to restore the state of the partitions an assignment gave (local snapshots, changelog)",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
NAT_AGE_AT_GATE = Histogram(
    "sentinel_nat_age_at_gate_hours",
    "Age, at the gate, of the NAT sample an occupant presents (evidence age)",
    buckets=(6, 12, 24, 36, 42, 48, 60, 72, 96, 168),
)
DECISION_LATENCY = Histogram(
    "sentinel_decision_latency_seconds",
    "Processing time from an entry reaching Kafka (its record's timestamp) to its first decision "
    "being sent",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
BOARD_SCREENS = Gauge(
    "sentinel_board_screens", "Screens watching this worker's gate board (its event streams)"
)
PENDING_TIMERS = Gauge(
    "sentinel_pending_timers",
    "Keys with a deadline waiting for the watermark, by stage",
    ["stage"],
)
WATERMARK = Gauge(
    "sentinel_watermark_timestamp_seconds",
    "Event time up to which a park's deadlines have fired (the parks this worker holds)",
    ["park"],
)
CONSUMER_LAG = Gauge(
    "sentinel_consumer_lag_messages",
    "Messages not processed yet on this worker's partitions, by topic",
    ["topic"],
)
DECIDE_BATCH_EVENTS = Histogram(
    "sentinel_decide_batch_events",
    "Raw events per batch of the decide stage (one changelog write and one commit each)",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 5000),
)
SINK_BATCH_ROWS = Histogram(
    "sentinel_sink_batch_rows",
    "Rows per ClickHouse insert, by table",
    ["table"],
    buckets=(1, 10, 100, 500, 1000, 5000, 20000),
)
SINK_SECONDS = Histogram(
    "sentinel_sink_insert_seconds",
    "ClickHouse insert time, retries included, by table",
    ["table"],
)
SINK_FAILURES = Counter(
    "sentinel_sink_failures_total",
    "ClickHouse inserts that failed: retried (kind retried) or rows refused for good (refused)",
    ["table", "kind"],
)
SINK_ROWS = Counter("sentinel_sink_rows_total", "Rows written to ClickHouse by the sink")
PAGES = Counter("sentinel_pages_total", "Alerts posted to Alertmanager, by severity", ["severity"])
PAGE_FAILURES = Counter(
    "sentinel_page_failures_total", "Failed posts to Alertmanager (retried unless refused)"
)
