-- +goose Up
-- The relay claims an event with a lease instead of holding its row lock while it calls Temporal:
-- a claim sets lease_id and moves next_attempt_at to the lease's end, so an event whose relay died
-- is due again when the lease runs out. An outcome is recorded only under the lease that claimed it.
ALTER TABLE webhook_events ADD COLUMN lease_id uuid;

-- Claims take due pending events oldest-due first, straight off this index.
DROP INDEX webhook_events_due;
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at, id) WHERE status = 'pending';

-- A new route wakes the pending events of its subject.
CREATE INDEX webhook_events_pending_subject ON webhook_events (provider, subject) WHERE status = 'pending';

-- +goose Down
DROP INDEX webhook_events_pending_subject;
DROP INDEX webhook_events_due;
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'pending';
ALTER TABLE webhook_events DROP COLUMN lease_id;
