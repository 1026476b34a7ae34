-- +goose Up

-- What the HR platform chose for a check beyond its type, e.g. {"sex_offender": true}.
ALTER TABLE checks ADD COLUMN options jsonb NOT NULL DEFAULT '{}';

-- Orders that cost money are placed once: a retried activity sees these and does not order again.
ALTER TABLE checks ADD COLUMN criminal_ordered_at timestamptz;
ALTER TABLE checks ADD COLUMN sex_offender_ordered_at timestamptz;

-- The provider's searches within a check (Authenticate's county and federal searches), as the
-- HR API shows them. provider_updated_at is the provider's time of the state kept here, so that a
-- stale update arriving late cannot overwrite a newer one.
CREATE TABLE check_searches (
    check_id            uuid NOT NULL REFERENCES checks (id),
    unique_identifier   text NOT NULL,
    search_type         text NOT NULL,
    search_status       text NOT NULL,
    search_sub_status   text NOT NULL DEFAULT '',
    provider_updated_at timestamptz NOT NULL,
    PRIMARY KEY (check_id, unique_identifier)
);

-- +goose Down
DROP TABLE check_searches;
ALTER TABLE checks DROP COLUMN sex_offender_ordered_at;
ALTER TABLE checks DROP COLUMN criminal_ordered_at;
ALTER TABLE checks DROP COLUMN options;
