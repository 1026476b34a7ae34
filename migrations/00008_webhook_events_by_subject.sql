-- +goose NO TRANSACTION
-- +goose Up
-- The relay asks whether an event of a type about a subject was stored before another (an
-- Authenticate search completed after ALL_CRIMINAL_REQUESTS_COMPLETE is a prompt, before it only a
-- note): whatever their status. Built without blocking the webhooks that keep arriving.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_events_by_subject ON webhook_events (provider, subject, event_type, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS webhook_events_by_subject;
