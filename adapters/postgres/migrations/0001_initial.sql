-- wachannel initial schema. Forward-only: never edit once applied, add a new file instead.
-- Columns holding secrets or patient text store SecretCipher output ("wac1:<kid>:<base64>").

CREATE TABLE organizations (
    id                   text PRIMARY KEY,
    webhook_secret       text NOT NULL,          -- encrypted
    previous_secret      text,                   -- encrypted
    previous_valid_until timestamptz
);

CREATE TABLE instances (
    id                  uuid PRIMARY KEY,
    organization_id     text NOT NULL,
    evolution_name      text NOT NULL UNIQUE,
    display_name        text,
    phone_number        text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    state               text NOT NULL CHECK (state IN ('creating', 'awaiting_qr', 'connecting',
                            'connected', 'disconnected', 'logged_out', 'failed', 'deleted')),
    state_reason        text,
    profile_name        text,
    connected_at        timestamptz,
    last_event_at       timestamptz,
    last_evolution_time timestamptz,
    qr_code             text,
    qr_base64           text,
    qr_pairing_code     text,
    qr_issued_at        timestamptz,
    qr_expires_at       timestamptz,
    evolution_token     text                     -- encrypted
);
CREATE INDEX instances_organization_page_idx ON instances (organization_id, created_at, id);
CREATE INDEX instances_page_idx ON instances (created_at, id);
CREATE INDEX instances_state_idx ON instances (state);

-- One row per organization: the chain's tip. Appenders lock it FOR UPDATE, so the chain
-- of one organization is extended by one transaction at a time and never forks.
CREATE TABLE audit_heads (
    organization_id text COLLATE "C" PRIMARY KEY,
    last_hash       text NOT NULL,
    count           bigint NOT NULL
);

CREATE TABLE audit_events (
    id              uuid PRIMARY KEY,
    organization_id text NOT NULL,
    seq             bigint NOT NULL,
    action          text NOT NULL,
    actor_id        text NOT NULL,
    actor_type      text NOT NULL,
    "timestamp"     timestamptz NOT NULL,
    ip_address      text,
    user_agent      text,
    -- json, not jsonb: the hash covers the details as written, and jsonb rewrites numbers.
    details         json NOT NULL,
    prev_hash       text NOT NULL,
    hash            text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, seq)
);
CREATE INDEX audit_events_page_idx ON audit_events ("timestamp" DESC, id DESC);
CREATE INDEX audit_events_organization_page_idx
    ON audit_events (organization_id, "timestamp" DESC, id DESC);

-- Append-only: UPDATE, DELETE and TRUNCATE are refused, except the retention purge, which
-- must opt in with SET LOCAL wachannel.audit_purge = 'on' and may only delete rows older
-- than wachannel.audit_retention_days (default 2557 days, seven years).
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    retention_days int := coalesce(
        nullif(current_setting('wachannel.audit_retention_days', true), ''), '2557')::int;
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('wachannel.audit_purge', true) = 'on'
       AND OLD."timestamp" < now() - make_interval(days => retention_days) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE flags (
    name       text PRIMARY KEY,
    enabled    boolean NOT NULL,
    percentage integer NOT NULL CHECK (percentage BETWEEN 0 AND 100),
    allow_orgs text[] NOT NULL DEFAULT '{}',
    deny_orgs  text[] NOT NULL DEFAULT '{}',
    variants   jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz,
    updated_by text
);

CREATE TABLE webhook_inbox (
    id              uuid PRIMARY KEY,
    organization_id text NOT NULL,
    instance_name   text NOT NULL,
    event           text NOT NULL,
    dedupe_key      text NOT NULL,
    body            bytea NOT NULL,
    received_at     timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'processing', 'done', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    last_error      text,
    outcome         text,
    UNIQUE (organization_id, dedupe_key)
);
CREATE INDEX webhook_inbox_due_idx ON webhook_inbox (next_attempt_at, received_at, id)
    WHERE status = 'pending';
CREATE INDEX webhook_inbox_lease_idx ON webhook_inbox (locked_until)
    WHERE status = 'processing';
CREATE INDEX webhook_inbox_status_idx ON webhook_inbox (status);

CREATE TABLE messages (
    instance_id uuid NOT NULL,
    -- "C" collation: pages are ordered by code point, the same order as the in-memory store.
    message_id  text COLLATE "C" NOT NULL,
    remote_jid  text NOT NULL,
    from_me     boolean NOT NULL,
    push_name   text,
    type        text NOT NULL,
    text        text,                            -- encrypted
    "timestamp" timestamptz,
    sort_at     timestamptz NOT NULL,            -- "timestamp", or the epoch when unknown
    status      text,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, message_id)
);
CREATE INDEX messages_page_idx ON messages (instance_id, sort_at DESC, message_id DESC);

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       integer NOT NULL,
    body         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
