-- +goose Up
-- Where a tenant wants its callbacks (HR callbacks, package callbacks). The signing secret is
-- sealed with the store's vault; the sealed value names the key that sealed it. After a rotation
-- the previous secret still signs until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
    id                         uuid PRIMARY KEY,
    tenant_id                  uuid NOT NULL REFERENCES tenants (id),
    url                        text NOT NULL,
    event_types                text[] NOT NULL,
    enabled                    boolean NOT NULL,
    secret_sealed              bytea NOT NULL,
    previous_secret_sealed     bytea,
    previous_secret_expires_at timestamptz,
    -- Since when every attempt to this endpoint has failed; NULL after a success. The dispatcher
    -- disables the endpoint once this is older than its failure budget.
    failing_since              timestamptz,
    disabled_reason            text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

-- Every state change of a screening looks up its tenant's enabled endpoints: one index probe, and
-- nothing more when there are none.
CREATE INDEX webhook_endpoints_enabled_by_tenant ON webhook_endpoints (tenant_id) WHERE enabled;
CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at);

-- The per-screening sequence number of the callbacks; a constant default adds the column without
-- rewriting the table.
ALTER TABLE screenings ADD COLUMN callback_sequence bigint NOT NULL DEFAULT 0;

-- The outbox: one row per event and subscribed endpoint, written in the transaction of the state
-- change it reports. event_id is the webhook-id, the same for every endpoint and every attempt.
CREATE TABLE callback_deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    screening_id     uuid NOT NULL REFERENCES screenings (id),
    sequence         bigint NOT NULL,
    payload          bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CONSTRAINT callback_deliveries_status CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- When the delivery is due; while a dispatcher holds it, when its lease ends.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_id         uuid,
    -- Start of the retry window: creation, or the last manual redelivery.
    pending_since    timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    CONSTRAINT callback_deliveries_once UNIQUE (endpoint_id, event_id)
);

CREATE INDEX callback_deliveries_due ON callback_deliveries (next_attempt_at, id) WHERE status = 'pending';
-- Per-screening order: a delivery waits while an earlier one of its screening to its endpoint is pending.
CREATE INDEX callback_deliveries_pending_order ON callback_deliveries (endpoint_id, screening_id, sequence)
    WHERE status = 'pending';
CREATE INDEX callback_deliveries_by_endpoint ON callback_deliveries (endpoint_id, id);

-- The delivery log: one row per attempt.
CREATE TABLE callback_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES callback_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    duration_ms  integer NOT NULL,
    status_code  integer,
    error        text
);

CREATE INDEX callback_attempts_by_delivery ON callback_attempts (delivery_id, id);

-- +goose Down
DROP TABLE callback_attempts;
DROP TABLE callback_deliveries;
ALTER TABLE screenings DROP COLUMN callback_sequence;
DROP TABLE webhook_endpoints;
