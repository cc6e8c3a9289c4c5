-- What a park's duty officer and a regulator need (issue "Decisions a park can trust"):
-- the officers' resolutions as an audit trail, contact traces, every rule set ever in force,
-- alerts closed, and per decision revision the reasons and evidence, not only the failed rules.

-- Per decision revision: each rule's result (in step: rule, subject, status, outcome, reason,
-- evidence as "event_id topic/partition[/offset]" separated by "; "), the hash of the rule set's
-- text (a row of `rulesets`), and the officer's resolution when there is one.
ALTER TABLE decisions ADD COLUMN supersedes String DEFAULT '';
ALTER TABLE decisions ADD COLUMN ruleset_hash String DEFAULT '';
ALTER TABLE decisions ADD COLUMN rule_names Array(String);
ALTER TABLE decisions ADD COLUMN rule_subjects Array(String);
ALTER TABLE decisions ADD COLUMN rule_statuses Array(String);
ALTER TABLE decisions ADD COLUMN rule_outcomes Array(String);
ALTER TABLE decisions ADD COLUMN rule_reasons Array(String);
ALTER TABLE decisions ADD COLUMN rule_evidence Array(String);
ALTER TABLE decisions ADD COLUMN officer String DEFAULT '';
ALTER TABLE decisions ADD COLUMN resolution_action String DEFAULT '';
ALTER TABLE decisions ADD COLUMN resolution_reason String DEFAULT '';

-- When the pipeline learnt of an alert (event time: a lab result's report, the entry, the
-- deadline); paging judges by it.
ALTER TABLE alerts ADD COLUMN detected_at DateTime('Asia/Shanghai') DEFAULT event_time;

-- An occupant whose roster was not checked (on_roster absent) is flagged, as one on no roster.
ALTER TABLE occupants ADD COLUMN roster_checked UInt8 DEFAULT 1;

-- Visits reach their park through the enterprise: the park they are for.
ALTER TABLE health_visits ADD COLUMN park String DEFAULT '';

-- Every resolution an officer sent, accepted or refused: who, what, when, why, and which
-- decision revision it superseded and made.
CREATE TABLE IF NOT EXISTS resolutions
(
    event_id            String,
    park                String,
    gate                String,
    plate               String,
    entry_id            String,
    officer             String,
    action              String,
    reason              String,
    accepted            UInt8,
    refusal             String,
    superseded_revision Nullable(UInt32),
    revision            Nullable(UInt32),
    event_time          DateTime('Asia/Shanghai'),
    event_date          Date,
    inserted_at         DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, event_id);

-- Contact tracing (DOMAIN rule 15): one row per contact of a positive, per park. A trace sent
-- again with more contacts adds rows; read with FINAL.
CREATE TABLE IF NOT EXISTS contacts
(
    trace_id          String,
    positive_event_id String,
    park              String,
    person            String,
    kind              String,
    entry_id          String,
    plate             String,
    gate              String,
    contact_person    String,
    contact_time      DateTime('Asia/Shanghai'),
    via_entry_id      String,
    event_time        DateTime('Asia/Shanghai'),
    event_date        Date,
    inserted_at       DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, trace_id, entry_id, contact_person);

-- Every rule set ever published, with its text: a decision's (ruleset_version, ruleset_hash)
-- resolves to the exact rules that made it.
CREATE TABLE IF NOT EXISTS rulesets
(
    version         String,
    content_hash    String,
    text            String,
    published_at    DateTime,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
ORDER BY (version, content_hash);

-- Alerts whose condition ended (an officer resolved the hold, the hold ended by itself): the
-- firing row stays in `alerts`; this says since when it is over.
CREATE TABLE IF NOT EXISTS alert_resolutions
(
    dedup_key       String,
    resolved_at     DateTime('Asia/Shanghai'),
    event_date      Date,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (event_date, dedup_key);
