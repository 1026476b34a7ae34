-- +goose Up
-- Who read or downloaded what, for the tenant to see (GET /v1/audit-events). It holds ids only:
-- never a candidate's data, a document's bytes or an API key. The screening and document ids have
-- no foreign keys on purpose: the record of a read must outlive the data that was read.
CREATE TABLE audit_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    key_id       text NOT NULL,
    action       text NOT NULL CHECK (action IN ('screening.read', 'document.downloaded')),
    screening_id uuid NOT NULL,
    document_id  uuid,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((action = 'document.downloaded') = (document_id IS NOT NULL))
);

-- The tenant's listing, newest first, of everything or of one screening.
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, id DESC);
CREATE INDEX audit_events_by_screening ON audit_events (tenant_id, screening_id, id DESC);

-- +goose Down
DROP TABLE audit_events;
