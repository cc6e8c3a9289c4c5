-- Rollups, written by the stream processors as absolute snapshots (docs/clickhouse.md).
-- Each worker owns a share of the input partitions (a shard) and writes, per group and shard,
-- the group's absolute counts over its shard with a rising version. ReplacingMergeTree(version)
-- keeps the latest snapshot of each (group, shard): a repeated flush replaces, never adds.
-- Read: FINAL, then sum over the shards, e.g.
--   SELECT day, sum(entries) FROM rollup_gate_hourly FINAL GROUP BY day
-- Days are park-local (Asia/Shanghai).

-- Arrivals per gate and hour (the daily peak is the largest daily sum), and the queue: entries
-- whose first decision did not release them at once.
CREATE TABLE IF NOT EXISTS rollup_gate_hourly
(
    park            String,
    gate            String,
    day             Date,
    hour            UInt8,
    shard           UInt16,
    version         UInt64,
    entries         UInt32,
    held_on_arrival UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (park, day, gate, hour, shard);

-- The current outcome of every decided entry, per day of entry.
CREATE TABLE IF NOT EXISTS rollup_outcomes_daily
(
    park            String,
    day             Date,
    shard           UInt16,
    version         UInt64,
    decided         UInt32,
    released        UInt32,
    held            UInt32,
    denied          UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (park, day, shard);

-- Entries a rule failed for, by the entry's current decision: a denial when the entry is
-- denied, otherwise a hold (held at the gate, whether released later on a remedy or not).
CREATE TABLE IF NOT EXISTS rollup_rules_daily
(
    park            String,
    day             Date,
    rule            String,
    shard           UInt16,
    version         UInt64,
    holds           UInt32,
    denials         UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (park, day, rule, shard);

-- Positive test results per day of the test (antigen: test time; NAT: report time).
CREATE TABLE IF NOT EXISTS rollup_positives_daily
(
    day             Date,
    kind            String,
    shard           UInt16,
    version         UInt64,
    positives       UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, kind, shard);

-- Health-visit obligations per receiving enterprise and due day, and how many became overdue.
CREATE TABLE IF NOT EXISTS rollup_visits_daily
(
    park            String,
    enterprise      String,
    day             Date,
    shard           UInt16,
    version         UInt64,
    obligations     UInt32,
    overdue         UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (park, enterprise, day, shard);

-- Time on site, per day of entry: exits matched to their entry, total and longest stay.
CREATE TABLE IF NOT EXISTS rollup_dwell_daily
(
    park            String,
    day             Date,
    shard           UInt16,
    version         UInt64,
    exits           UInt32,
    dwell_seconds   UInt64,
    longest_seconds UInt32
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (park, day, shard);
