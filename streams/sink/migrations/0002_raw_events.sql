-- Raw events as ingestion passed them on: pseudonyms only, never an ID or phone number.
-- Every table is a ReplacingMergeTree whose sorting key ends with the event's own id: a replayed
-- or retried insert of the same event collapses into one row. Exact counts read with FINAL (or
-- uniqExact(event_id)) until the background merges have run.
-- Times are park-local (Asia/Shanghai); event_date is the park-local calendar day.
CREATE TABLE IF NOT EXISTS entries
(
    event_id        String,
    park            String,
    gate            String,
    gate_class      String,
    plate           String,
    vehicle_class   String,
    hazmat          UInt8,
    un_number       String,
    hazard_class    String,
    quantity_kg     Float64,
    consignee       String,
    origin_region   String,
    occupants       UInt16,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    event_hour      UInt8,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, event_id);

-- One row per person on board an entry (the entry's time and day).
CREATE TABLE IF NOT EXISTS occupants
(
    entry_id        String,
    person          String,
    role            String,
    nat_sample_time Nullable(DateTime('Asia/Shanghai')),
    nat_result      String,
    code_colour     String,
    on_roster       UInt8,
    park            String,
    gate            String,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, entry_id, person);

CREATE TABLE IF NOT EXISTS antigen_tests
(
    event_id        String,
    person          String,
    park            String,
    site            String,
    result          String,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, event_id);

-- event_time: when the lab reported; sample_time: when the swab was taken (what rule 1 reads).
CREATE TABLE IF NOT EXISTS nat_reports
(
    event_id        String,
    person          String,
    lab             String,
    result          String,
    sample_time     DateTime('Asia/Shanghai'),
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, event_id);

CREATE TABLE IF NOT EXISTS health_visits
(
    event_id        String,
    person          String,
    enterprise      String,
    entry_id        String,
    visit_number    UInt8,
    temperature_c   Float32,
    symptoms        UInt8,
    outcome         String,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, event_id);

CREATE TABLE IF NOT EXISTS exits
(
    event_id        String,
    park            String,
    gate            String,
    plate           String,
    entry_id        String,
    event_time      DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, event_id);
