-- +goose Up
-- An authentic webhook whose body cannot be read as an event is kept, never refused: 'unparsed'.
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
    CHECK (status IN ('pending', 'delivered', 'unroutable', 'discarded', 'unparsed'));

-- A check waits in action_required while the provider waits for the candidate.
ALTER TABLE checks DROP CONSTRAINT checks_status_check;
ALTER TABLE checks ADD CONSTRAINT checks_status_check
    CHECK (status IN ('pending', 'awaiting_credentialing', 'action_required', 'in_progress', 'completed', 'failed',
                      'canceled'));

-- +goose Down
-- The narrower constraints cannot be added back while a row is in a status they lack.
UPDATE checks SET status = 'in_progress' WHERE status = 'action_required';
ALTER TABLE checks DROP CONSTRAINT checks_status_check;
ALTER TABLE checks ADD CONSTRAINT checks_status_check
    CHECK (status IN ('pending', 'awaiting_credentialing', 'in_progress', 'completed', 'failed', 'canceled'));
UPDATE webhook_events SET status = 'unroutable' WHERE status = 'unparsed';
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_status_check;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_status_check
    CHECK (status IN ('pending', 'delivered', 'unroutable', 'discarded'));
