-- Alerts as sent to sentinel.alerts. dedup_key is stable (a replayed alert has the same key and
-- event time), so a replay collapses into one row; count with FINAL or uniqExact(dedup_key).
CREATE TABLE IF NOT EXISTS alerts
(
    event_id        String,
    dedup_key       String,
    severity        Enum8('info' = 0, 'warning' = 1, 'critical' = 2),
    rule            String,
    subject         String,
    park            String,
    gate            String,
    entry_id        String,
    enterprise      String,
    message         String,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, dedup_key);
