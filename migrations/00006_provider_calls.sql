-- +goose Up
-- Provider calls that create something and whose answer can be lost, at providers that offer no
-- lookup and no idempotency key (Authenticate's POST /user/create). The intent is written before
-- the call: one still pending when a later attempt starts, or ended by a timeout or a 5xx, was
-- 'lost': the provider may hold a record screenflow does not know, until an operator reconciles it.
CREATE TABLE provider_calls (
    id            bigserial PRIMARY KEY,
    check_id      uuid NOT NULL REFERENCES checks (id),
    provider      text NOT NULL,
    operation     text NOT NULL,
    attempt       int NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'succeeded', 'refused', 'not_sent', 'lost', 'reconciled')),
    -- What the provider answered it created (an Authenticate userAccessCode): an id, never PII. A
    -- lost call keeps it when its answer came after all, too late.
    result        text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    reconciled_at timestamptz,
    UNIQUE (check_id, provider, operation, attempt)
);

-- What operators list: the lost calls not reconciled yet.
CREATE INDEX provider_calls_lost ON provider_calls (started_at) WHERE state = 'lost';

-- +goose Down
DROP TABLE provider_calls;
