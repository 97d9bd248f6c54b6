-- Backup documents (API.md section 9). The document is kept as the exact bytes that were
-- checksummed (bytea, not json/jsonb, which would re-spell them).
CREATE TABLE backups (
    id         text PRIMARY KEY,
    created_at timestamptz NOT NULL,
    instances  integer NOT NULL,
    sha256     text NOT NULL,
    size       integer NOT NULL,
    document   bytea NOT NULL
);
CREATE INDEX backups_created_idx ON backups (created_at DESC, id DESC);
