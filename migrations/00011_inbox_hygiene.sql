-- +goose NO TRANSACTION
-- +goose Up
-- Webhook bodies are sealed with the vault (AES-256-GCM) from this release on: body_sealed says
-- whether body holds the sealed bytes. Rows written before this release stay in the clear until
-- `screenflow keys rotate` seals them; both kinds are read. Constant defaults: no table rewrite.
ALTER TABLE webhook_events
    ADD COLUMN IF NOT EXISTS body_sealed boolean NOT NULL DEFAULT false,
    -- When the retention period purged the body and headers of a finished event: the row keeps
    -- its ids, status and times for audit, its body becomes empty and its headers '{}'.
    ADD COLUMN IF NOT EXISTS body_purged_at timestamptz;

-- The purge takes finished events whose body is still kept, oldest first, straight off this index;
-- a purged row leaves it. Built without blocking the webhooks that keep arriving.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_events_body_kept
    ON webhook_events ((coalesce(delivered_at, received_at)), id)
    WHERE status <> 'pending' AND body_purged_at IS NULL;

-- +goose Down
-- Refuses, instead of handing sealed bytes to a relay that cannot open them, while any body is
-- sealed.
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_bodies_in_the_clear CHECK (NOT body_sealed);
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_bodies_in_the_clear;
DROP INDEX CONCURRENTLY IF EXISTS webhook_events_body_kept;
ALTER TABLE webhook_events DROP COLUMN IF EXISTS body_purged_at, DROP COLUMN IF EXISTS body_sealed;
