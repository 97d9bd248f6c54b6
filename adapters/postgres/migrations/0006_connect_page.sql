-- The connect page's A/B test: views and outcomes per (flag, variant), one row per outcome,
-- incremented in place by every replica.
CREATE TABLE connect_page_counts (
    flag     text NOT NULL,
    variant  text NOT NULL,
    outcome  text NOT NULL CHECK (outcome IN ('view', 'connected', 'timeout', 'error')),
    count    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (flag, variant, outcome)
);
