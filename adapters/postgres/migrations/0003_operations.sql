-- Operations: every worker's heartbeat (read by readiness on any replica) and each periodic
-- job's runs (the leader's record; the runs of one job never overlap).

CREATE TABLE worker_heartbeats (
    worker_id text PRIMARY KEY,
    beat_at   timestamptz NOT NULL
);
CREATE INDEX worker_heartbeats_beat_idx ON worker_heartbeats (beat_at DESC);

CREATE TABLE job_runs (
    id          bigserial PRIMARY KEY,
    job         text NOT NULL,
    worker_id   text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    outcome     text
);
CREATE INDEX job_runs_job_idx ON job_runs (job, started_at);
