-- +goose Up

CREATE TABLE tenants (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    api_key_hash bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Candidate PII lives here and only here: workflows carry the candidate's id, and activities read
-- these columns when a provider needs them.
CREATE TABLE candidates (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    reference     text NOT NULL,
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    email         text NOT NULL,
    dob           date NOT NULL,
    address_line1 text NOT NULL DEFAULT '',
    address_line2 text NOT NULL DEFAULT '',
    city          text NOT NULL DEFAULT '',
    state         text NOT NULL DEFAULT '',
    postal_code   text NOT NULL DEFAULT '',
    country       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE screenings (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    candidate_id        uuid NOT NULL REFERENCES candidates (id),
    status              text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'canceled')),
    result              text,
    idempotency_key     text,
    request_hash        bytea,
    workflow_started_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    UNIQUE (tenant_id, idempotency_key)
);

-- The relay's sweep starts the workflows that could not be started when the screening was created.
CREATE INDEX screenings_unstarted ON screenings (created_at)
    WHERE workflow_started_at IS NULL AND status = 'pending';

CREATE TABLE checks (
    id                 uuid PRIMARY KEY,
    screening_id       uuid NOT NULL REFERENCES screenings (id),
    position           int NOT NULL,
    provider           text NOT NULL,
    check_type         text NOT NULL,
    status             text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'canceled')),
    outcome            text,
    failure_reason     text,
    provider_client_id text,
    provider_check_id  text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    UNIQUE (screening_id, position)
);

CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    screening_id uuid NOT NULL REFERENCES screenings (id),
    check_id     uuid NOT NULL REFERENCES checks (id),
    kind         text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    sha256       text NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- One stored copy per check and kind makes a retried download activity a no-op.
    UNIQUE (check_id, kind)
);

CREATE TABLE timeline_entries (
    id           bigserial PRIMARY KEY,
    screening_id uuid NOT NULL REFERENCES screenings (id),
    check_id     uuid REFERENCES checks (id),
    -- Activities retry: the key makes a second write of the same entry a no-op.
    dedupe_key   text NOT NULL,
    kind         text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (screening_id, dedupe_key)
);

-- The webhook inbox: every verified provider event, stored before it is acknowledged.
CREATE TABLE webhook_events (
    id              bigserial PRIMARY KEY,
    provider        text NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    headers         jsonb NOT NULL,
    body            bytea NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'unroutable', 'discarded')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz,
    UNIQUE (provider, event_id)
);

CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'pending';

-- Maps a provider's resource (e.g. "check:<id>") to the workflow that waits for its events.
CREATE TABLE routes (
    provider    text NOT NULL,
    subject     text NOT NULL,
    workflow_id text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);

-- +goose Down
DROP TABLE routes;
DROP TABLE webhook_events;
DROP TABLE timeline_entries;
DROP TABLE documents;
DROP TABLE checks;
DROP TABLE screenings;
DROP TABLE candidates;
DROP TABLE tenants;
