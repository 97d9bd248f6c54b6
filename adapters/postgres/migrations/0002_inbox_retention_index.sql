-- The workers delete processed inbox events past their retention, oldest first in effect:
-- (status, received_at) makes that a range scan, where the old (status) index made every pass
-- walk all processed events still kept. It replaces that index, so intake writes no more
-- index entries than before.
CREATE INDEX webhook_inbox_status_received_idx ON webhook_inbox (status, received_at);
DROP INDEX webhook_inbox_status_idx;
