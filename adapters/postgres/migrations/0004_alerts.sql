-- Alert state shared by the replicas: a row per (rule, key) is locked while one replica
-- decides, so a run of failures seen by two replicas is counted once and announced once.
CREATE TABLE alert_states (
    rule         text NOT NULL,
    key          text NOT NULL,
    consecutive  integer NOT NULL DEFAULT 0,
    firing       boolean NOT NULL DEFAULT false,
    notified     boolean NOT NULL DEFAULT false,
    alert_id     uuid,
    detail       text NOT NULL DEFAULT '',
    first_at     timestamptz,
    last_at      timestamptz,
    last_sent_at timestamptz,
    PRIMARY KEY (rule, key)
);

-- One row per episode (from the alert to its recovery), with how each channel fared.
CREATE TABLE alerts (
    id        uuid PRIMARY KEY,
    rule      text NOT NULL,
    key       text NOT NULL,
    severity  text NOT NULL,
    state     text NOT NULL CHECK (state IN ('firing', 'resolved')),
    detail    text NOT NULL,
    first_at  timestamptz NOT NULL,
    last_at   timestamptz NOT NULL,
    channels  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alerts_last_at_idx ON alerts (last_at DESC);
