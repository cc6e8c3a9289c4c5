-- Release decisions, one row per (entry, revision). A later revision supersedes an earlier one;
-- read the current outcome with argMax(outcome, revision) GROUP BY entry_id.
-- ReplacingMergeTree on the full key: a replayed decision (same entry, same revision) collapses
-- into one row at merge time; read with FINAL where exact counts matter before merges.
CREATE TABLE IF NOT EXISTS decisions
(
    decision_id     String,
    entry_id        String,
    revision        UInt32,
    park            String,
    gate            String,
    plate           String,
    outcome         Enum8('release' = 0, 'hold' = 1, 'deny' = 2),
    failed_rules    Array(String),
    ruleset_version String,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (entry_id, revision);
